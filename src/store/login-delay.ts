/**
 * popminpoll / poppollpadding (pop3d.c:openinbox) for stores that have no place of their own for the last
 * login (Cyrus keeps it in the mailbox index; Maildir and mbox don't): one small file per mailbox
 * under `<configdirectory>/pop3d/lastlogin/`. As in Cyrus it is checked at login and written only
 * at QUIT, so sessions that drop without QUIT don't count.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { StoreError, type CommitRequest, type CommitResult, type MailStore, type Maildrop } from "./maildrop.ts";

export interface LoginDelayOptions {
  /** Seconds; 0 disables the check. */
  minPollSeconds: number;
  /** poppollpadding: logins allowed in a burst (pop3d.c:openinbox). */
  padding: number;
  stateDirectory: string;
  now?: () => number;
}

/** pop3d.c:openinbox: with padding > 1 the allowance refills one login per popminpoll. */
export function nextLastLogin(last: number, loginTime: number, minPoll: number, padding: number): number {
  if (minPoll > 0 && padding > 1) {
    const minTime = loginTime - minPoll * padding;
    return last < minTime ? minTime + minPoll : last + minPoll;
  }
  return loginTime;
}

export class LoginDelayStore implements MailStore {
  private readonly now: () => number;

  constructor(
    private readonly inner: MailStore,
    private readonly o: LoginDelayOptions,
  ) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  private stateFile(user: string, folder: string | undefined): string {
    // canonical user names contain no "/", so the name is a safe file name
    return join(this.o.stateDirectory, folder === undefined ? user : `${user}+${encodeURIComponent(folder)}`);
  }

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    const loginTime = this.now();
    const path = this.stateFile(user, folder);
    const last = readLastLogin(path);
    if (this.o.minPollSeconds > 0 && last + this.o.minPollSeconds > loginTime) {
      throw new StoreError("login-delay", "Logins must be at least apart");
    }
    const drop = await this.inner.open(user, folder);
    const { minPollSeconds, padding } = this.o;
    const stateDirectory = this.o.stateDirectory;
    return {
      get uidValidity() {
        return drop.uidValidity;
      },
      get messages() {
        return drop.messages;
      },
      get newUidl() {
        return drop.newUidl;
      },
      get mayDelete() {
        return drop.mayDelete;
      },
      open: (index) => drop.open(index),
      close: () => drop.close(),
      async commit(request: CommitRequest): Promise<CommitResult> {
        const result = await drop.commit(request);
        writeLastLogin(stateDirectory, path, nextLastLogin(readLastLogin(path), loginTime, minPollSeconds, padding));
        return result;
      },
    };
  }
}

function readLastLogin(path: string): number {
  try {
    const value = Number(readFileSync(path, "latin1").trim());
    return Number.isFinite(value) ? value : 0;
  } catch {
    return 0;
  }
}

function writeLastLogin(dir: string, path: string, value: number): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    const temp = `${path}.new`;
    writeFileSync(temp, `${value}\n`);
    renameSync(temp, path);
  } catch {
    // advisory: a failure only means the next login is not delayed
  }
}
