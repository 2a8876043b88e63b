/**
 * Who is logged in where, for maxlogins_per_host / maxlogins_per_user (pop3d.c:openinbox) and for
 * Cyrus's own tools that list sessions. Implemented by server/ (proc files or in memory).
 */
export interface RegistryEntry {
  service: string;
  clientHost: string;
  userid: string;
  mailbox: string;
}

export interface LoginCounts {
  host: number;
  user: number;
}

export interface SessionRegistry {
  /** Record (or update) this session's entry; cheap when nothing changed. */
  update(key: object, entry: RegistryEntry): void;
  remove(key: object): void;
  /**
   * Logged-in sessions of `service` from `clientHost` and of `userid`, this one included if
   * registered. `asCyrusBefore312`: every service, and every entry that names a user (USER given
   * counts), as proc.c:procusage_cb did before Cyrus 3.12.
   */
  count(service: string, clientHost: string, userid: string, asCyrusBefore312?: boolean): LoginCounts;
}
