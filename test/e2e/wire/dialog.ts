/**
 * Transcript-style checking: every command and every response line is recorded on both sides
 * (what the server sent, what it should have sent), and the two transcripts are compared once at
 * the end, so one run shows every deviation of a session, not just the first.
 */
import { expect } from "bun:test";
import { WireClient } from "./wire-client.ts";
import { onCleanup } from "./wire-fixture.ts";
import { dotStuff, sha256 } from "./expected.ts";

/** A response line: exact text, or a pattern for the parts that differ per run (SESSIONID, challenge). */
export type Want = string | RegExp;

/** Commands whose +OK answer is followed by a multi-line block (what a client knows from RFC 1939). */
export function isMultiline(command: string): boolean {
  const [keyword = "", ...rest] = command.split(" ");
  const k = keyword.toUpperCase();
  // "AUTH " with only blanks is bare AUTH (pop3d.c:cmdloop)
  const hasArg = rest.join(" ").trim().length > 0;
  if (k === "CAPA" || k === "RETR" || k === "TOP") return true;
  if (k === "LIST" || k === "UIDL" || k === "AUTH") return !hasArg;
  return false;
}

export class Dialog {
  readonly got: string[] = [];
  readonly want: string[] = [];

  constructor(
    readonly client: WireClient,
    readonly label = "",
  ) {}

  record(gotLine: string, wantLine: Want): void {
    if (typeof wantLine === "string") {
      this.got.push(`S: ${gotLine}`);
      this.want.push(`S: ${wantLine}`);
    } else {
      const matched = wantLine.test(gotLine);
      this.got.push(`S: ${matched ? String(wantLine) : gotLine}`);
      this.want.push(`S: ${String(wantLine)}`);
    }
  }

  note(text: string): void {
    this.got.push(`-- ${text}`);
    this.want.push(`-- ${text}`);
  }

  /** Expect the next line from the server (e.g. the greeting or an unsolicited reply). */
  async expectLine(wantLine: Want): Promise<string> {
    const line = await this.client.readLine().catch((e: Error) => `<<${e.message}>>`);
    this.record(line, wantLine);
    return line;
  }

  /** Send one command (CRLF added) and check the status line; for multi-line commands also the block. */
  async step(command: string, status: Want, block?: readonly Want[]): Promise<string[]> {
    this.got.push(`C: ${shorten(command)}`);
    this.want.push(`C: ${shorten(command)}`);
    this.client.send(command + "\r\n");
    const first = await this.expectLine(status);
    const lines = [first];
    if (first.startsWith("+OK") && isMultiline(command)) {
      const got = await this.client.readMultiline().catch((e: Error) => ({ lines: [`<<${e.message}>>`] }));
      const wantBlock = block ?? [];
      const n = Math.max(got.lines.length, wantBlock.length);
      for (let i = 0; i < n; i++) {
        const g = got.lines[i];
        const w = wantBlock[i];
        if (g === undefined) this.record("<missing line>", w!);
        else if (w === undefined) this.record(g, "<no more lines>");
        else this.record(g, w);
        if (g !== undefined) lines.push(g);
      }
      this.record(".", ".");
    }
    return lines;
  }

  /** RETR/TOP: `+OK Message follows` and exactly the dot-stuffed form of `content` (CRLF-normalised). */
  async message(command: string, content: Buffer): Promise<void> {
    const stuffed = dotStuff(content);
    const lines = stuffed.length === 0 ? [] : stuffed.toString("utf8").slice(0, -2).split("\r\n");
    await this.step(command, "+OK Message follows", lines);
    this.note(`${command}: ${stuffed.length} octets on the wire`);
  }

  /** RETR of a big message: status, octet counts and sha256 instead of every line. */
  async bigMessage(command: string, content: Buffer): Promise<void> {
    this.got.push(`C: ${command}`);
    this.want.push(`C: ${command}`);
    this.client.send(command + "\r\n");
    const status = await this.expectLine("+OK Message follows");
    const stuffed = dotStuff(content);
    const describe = (wire: number, body: number, hash: string) => `[block: ${wire} octets on the wire, ${body} unstuffed, sha256 ${hash}]`;
    this.want.push(describe(stuffed.length, content.length, sha256(content)));
    if (!status.startsWith("+OK")) {
      this.got.push("[no block]");
      return;
    }
    const got = await this.client.readMultiline();
    this.got.push(describe(got.wire.length, got.body.length, sha256(got.body)));
  }

  /** Send raw bytes and expect these reply lines (for pipelining and odd framing). */
  async raw(bytes: string, replies: readonly Want[]): Promise<string[]> {
    this.got.push(`C: ${JSON.stringify(shorten(bytes))}`);
    this.want.push(`C: ${JSON.stringify(shorten(bytes))}`);
    this.client.send(bytes);
    const out: string[] = [];
    for (const r of replies) out.push(await this.expectLine(r));
    return out;
  }

  /** The server must close the connection without sending anything more. */
  async expectClosed(): Promise<void> {
    const rest = await this.client.readToEnd().catch((e: Error) => `<<${e.message}>>`);
    this.got.push(`[closed; then ${JSON.stringify(rest)}]`);
    this.want.push(`[closed; then ""]`);
  }

  /** A derived fact (e.g. "all UIDLs share one UIDVALIDITY") compared like a response line. */
  same(label: string, got: string, want: string): void {
    this.got.push(`${label}: ${got}`);
    this.want.push(`${label}: ${want}`);
  }

  /** Compare the two transcripts. */
  check(): void {
    checkDialogs([this]);
  }
}

/** Compare several dialogs at once (sessions that belong together, e.g. concurrent A and B). */
export function checkDialogs(dialogs: readonly Dialog[]): void {
  const show = (pick: (d: Dialog) => string[]) =>
    dialogs.map((d) => pick(d).map((line) => (d.label ? `[${d.label}] ${line}` : line)).join("\n")).join("\n");
  expect(show((d) => d.got)).toBe(show((d) => d.want));
}

/** Open a connection and check the greeting as the first line of the dialog. */
export async function connectDialog(port: number, label: string, greeting: Want): Promise<Dialog> {
  const client = await WireClient.connect(port);
  onCleanup(() => client.close());
  const d = new Dialog(client, label);
  d.got.push("[connect]");
  d.want.push("[connect]");
  d.record(client.greeting, greeting);
  return d;
}

function shorten(text: string): string {
  return text.length > 120 ? `${text.slice(0, 60)}…[${text.length} octets]…${text.slice(-20)}` : text;
}
