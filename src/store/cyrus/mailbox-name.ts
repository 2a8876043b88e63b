/**
 * How Cyrus 3.x names a user's mailbox (imap/mboxname.c, imap/mboxlist.c): the internal name
 * (`[domain!]user.<localpart>[.<folder>]`, with '.' inside a component written '^'), the
 * mailboxes.db key (`N[domain GS]user US localpart[US folder]`, components unescaped; Cyrus 3.5+)
 * and the userid the user namespace lock is named after.
 */

export interface NamingOptions {
  /** unixhierarchysep: '/' separates folders and '.' may appear inside names. */
  readonly unixHierarchySep: boolean;
  /** virtdomains is not "off": user@domain selects the domain's mailboxes. */
  readonly virtDomains: boolean;
  /** defaultdomain: its users live outside any domain. */
  readonly defaultDomain: string | undefined;
}

/** A user's INBOX (no boxes) or one of its subfolders. */
export interface MailboxName {
  readonly localpart: string;
  readonly domain: string | undefined;
  readonly boxes: readonly string[];
}

/** mailboxes.db separators (DB_DOMAINSEP / DB_HIERSEP). */
const DB_DOMAIN_SEP = "\x1d";
const DB_HIER_SEP = "\x1f";
const KEY_TYPE_NAME = "N";

export class MailboxNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MailboxNameError";
  }
}

function splitUserid(userid: string, opts: NamingOptions): { localpart: string; domain: string | undefined } {
  const at = opts.virtDomains ? userid.lastIndexOf("@") : -1;
  if (at < 0) return { localpart: userid, domain: undefined };
  const domain = userid.slice(at + 1);
  return { localpart: userid.slice(0, at), domain: domain === opts.defaultDomain ? undefined : domain };
}

/**
 * The mailbox a POP login opens (pop3d.c:openinbox): the user's INBOX, or with popsubfolders the INBOX
 * child named by `folder`, split on the hierarchy separator.
 */
export function userMailboxName(userid: string, folder: string | undefined, opts: NamingOptions): MailboxName {
  const { localpart, domain } = splitUserid(userid, opts);
  if (localpart === "") throw new MailboxNameError(`empty user name in ${JSON.stringify(userid)}`);
  const boxes = folder === undefined ? [] : folder.split(opts.unixHierarchySep ? "/" : ".");
  if (boxes.some((b) => b === "")) throw new MailboxNameError(`empty folder component in ${JSON.stringify(folder)}`);
  return { localpart, domain, boxes };
}

function escapeComponent(component: string): string {
  return component.replaceAll(".", "^");
}

/** The internal name, e.g. `example.com!user.john^doe.Sent`. */
export function internalName(name: MailboxName): string {
  const parts = ["user", name.localpart, ...name.boxes].map((p, i) => (i === 0 ? p : escapeComponent(p)));
  return (name.domain !== undefined ? `${name.domain}!` : "") + parts.join(".");
}

/** The userid owning the mailbox (mboxname_to_userid): localpart, plus @domain. */
export function ownerUserid(name: MailboxName): string {
  return name.domain !== undefined ? `${name.localpart}@${name.domain}` : name.localpart;
}

/** The mailboxes.db key of Cyrus 3.5 and later. */
export function mailboxesDbKey(name: MailboxName): Buffer {
  const domain = name.domain !== undefined ? name.domain + DB_DOMAIN_SEP : "";
  return Buffer.from(KEY_TYPE_NAME + domain + ["user", name.localpart, ...name.boxes].join(DB_HIER_SEP), "utf8");
}

/** The key of a mailboxes.db written by Cyrus 3.0 to 3.4: the internal name itself. */
export function legacyMailboxesDbKey(name: MailboxName): Buffer {
  return Buffer.from(internalName(name), "utf8");
}

/**
 * Names of the user namespace lock (user_namespacelock): 3.0–3.10 use `*U*<userid>` with '.'
 * as '^'; 3.12 uses `*U*<internal name of the INBOX>`. Both are taken, so the lock excludes
 * either generation of Cyrus tools.
 */
export function namespaceLockNames(name: MailboxName): string[] {
  const inbox: MailboxName = { ...name, boxes: [] };
  return [`*U*${escapeComponent(ownerUserid(name))}`, `*U*${internalName(inbox)}`];
}

/** The lock every writer holds shared when global_lock is on (Cyrus 3.12's GLOBAL_LOCKNAME). */
export const GLOBAL_LOCK_NAME = "$GLOBAL";
