import type { MessageInfo } from "../maildrop.ts";
import { maildirBaseName } from "./maildir-name.ts";
import type { MaildirFile, MaildirSubdir } from "./maildir-scan.ts";

/**
 * One message of a Maildir snapshot. Read from the uid list, it stays a reference into the list's
 * bytes until its name is needed: a login on 20,000 messages needs only uids and sizes, and an
 * unchanged line is written back by copying those bytes.
 */
export class MaildirMessage implements MessageInfo {
  private location: MaildirFile | undefined;
  private base: string | undefined;

  private constructor(
    readonly uid: number,
    /** Wire size (crlf-size.ts), cached in the uid list so later logins never read the message. */
    readonly size: number,
    location: MaildirFile | undefined,
    private readonly listSubdir: MaildirSubdir,
    /** The whole list line is listBytes[lineStart, lineEnd), its `<subdir>/<name>` from pathStart. */
    private listBytes: Buffer | undefined,
    private readonly lineStart: number,
    private readonly pathStart: number,
    private readonly lineEnd: number,
  ) {
    this.location = location;
  }

  static at(uid: number, size: number, file: MaildirFile): MaildirMessage {
    return new MaildirMessage(uid, size, file, file.subdir, undefined, 0, 0, 0);
  }

  /** The caller has checked that listBytes[pathStart, lineEnd) is `new/<name>` or `cur/<name>`. */
  static fromListLine(uid: number, size: number, subdir: MaildirSubdir, listBytes: Buffer, lineStart: number, pathStart: number, lineEnd: number): MaildirMessage {
    return new MaildirMessage(uid, size, undefined, subdir, listBytes, lineStart, pathStart, lineEnd);
  }

  /** The directory the message was last seen in, known without decoding its name. */
  get subdir(): MaildirSubdir {
    return this.location?.subdir ?? this.listSubdir;
  }

  /** Where the message was last seen; flag changes and new/→cur/ moves change it. */
  get file(): MaildirFile {
    if (this.location === undefined) {
      const name = this.listBytes!.toString("utf8", this.pathStart + 4, this.lineEnd);
      this.location = { subdir: this.listSubdir, name };
    }
    return this.location;
  }

  set file(file: MaildirFile) {
    this.location = file;
    this.listBytes = undefined;
  }

  /** The file name without its `:info`, which identifies the message across renames. */
  get baseName(): string {
    return (this.base ??= maildirBaseName(this.file.name));
  }

  /** The list bytes that still describe this message exactly (its line without the LF), if any. */
  get listSource(): Buffer | undefined {
    return this.listBytes;
  }

  get listLineStart(): number {
    return this.lineStart;
  }

  get listLineEnd(): number {
    return this.lineEnd;
  }

  /** The same message seen at another location (a new object: snapshots must not share state). */
  movedTo(file: MaildirFile): MaildirMessage {
    return MaildirMessage.at(this.uid, this.size, file);
  }
}
