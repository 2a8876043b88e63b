/**
 * `pop3_mailstore: cyrus`: users' mailboxes in a Cyrus 3.x spool, found through mailboxes.db and
 * read and updated the way Cyrus's own pop3d does, so Cyrus keeps working on them alongside us.
 */
import { StoreError, type MailStore, type Maildrop } from "../maildrop.ts";
import { IMAP_MAILBOX_NONEXISTENT } from "./cyrus-errors.ts";
import { CyrusMaildrop } from "./cyrus-maildrop.ts";
import type { CyrusStoreOptions } from "./cyrus-settings.ts";
import { OPT_POP3_NEW_UIDL } from "./index-format.ts";
import { MailboxNameError, internalName, userMailboxName } from "./mailbox-name.ts";
import { openMailbox } from "./mailbox-open.ts";

export class CyrusStore implements MailStore {
  constructor(private readonly opts: CyrusStoreOptions) {}

  async open(user: string, folder: string | undefined): Promise<Maildrop> {
    const loginTime = this.opts.now?.() ?? Math.floor(Date.now() / 1000);
    let name;
    try {
      name = userMailboxName(user, folder, this.opts.naming);
    } catch (error) {
      if (error instanceof MailboxNameError) throw new StoreError("temp", IMAP_MAILBOX_NONEXISTENT, error.message);
      throw error;
    }
    const intname = internalName(name);
    const mailbox = await openMailbox(this.opts, name, intname, user);

    // pop3d.c:openinbox: checked against the last QUIT; the reply text comes from the session's own setting.
    const minPoll = this.opts.popMinPollSeconds;
    if (minPoll > 0 && mailbox.index.pop3LastLogin + minPoll > loginTime) {
      throw new StoreError("login-delay", "Login delay", `${intname}: last login ${mailbox.index.pop3LastLogin}, now ${loginTime}`);
    }
    const target = { name, internalName: intname, files: mailbox.files, uidValidity: mailbox.index.uidValidity, loginTime };
    const newUidl = (mailbox.index.options & OPT_POP3_NEW_UIDL) !== 0;
    return CyrusMaildrop.of(this.opts, target, mailbox.messages, newUidl, mailbox.rights);
  }
}
