/**
 * Grammar-based fuzzing of the session engine: POP3 commands and their arguments, SASL exchanges,
 * STLS with a handshake that may fail, and PROXY headers, built from a grammar and then mutated
 * (case, NULs, bare CR/LF, truncation, repetition, over-long lines, random bytes). Everything
 * runs in-process against the real Session with the in-memory store, so a million lines take
 * seconds. Deterministic for a seed.
 *
 * The oracle: no session ever ends "fatal" (an exception escaped a handler), every -ERR is one
 * printable line, every episode ends once its input ends (no hang), PROXY parsing never throws
 * and never claims more bytes than it got, memory stays bounded, and afterwards a fresh session
 * still logs in, lists and quits.
 */
import { Session } from "../../src/pop3/session.ts";
import type { SessionIO, SessionEnd } from "../../src/pop3/session-io.ts";
import { parseProxyHeader } from "../../src/server/haproxy.ts";
import { silentLog } from "../../src/log/log.ts";
import { LOGIN, testPassdb, testSettings, testStore } from "../unit/pop3/session-fixture.ts";
import { MemoryStore } from "../support/memory-store.ts";

/** alice's mailbox and the anonymous one (an open that fails costs Cyrus's 3 s pause: not here). */
function fuzzStore(bigBytes: number): MemoryStore {
  const big = "Subject: big\r\n\r\n" + ".leading dot\r\n".repeat(Math.ceil(bigBytes / 15));
  const messages = ["Subject: one\r\n\r\nfirst\r\n", "Subject: two\n\n.dot\nno final newline", big];
  return new MemoryStore({
    alice: { uidValidity: 1700000000, messages },
    anonymous: { uidValidity: 1700000001, messages: ["Subject: hi\r\n\r\nhello\r\n"] },
  });
}

/** xorshift32: small, fast, and the same sequence for the same seed everywhere. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

const KEYWORDS = ["USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "NOOP", "RSET", "XTND", ""];
const MECHS = ["PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "EXTERNAL", "ANONYMOUS", "GSSAPI", "plain", "X"];
const NUMBERS = ["1", "2", "3", "0", "-1", "4", "99", "4294967296", "18446744073709551617", "1 2", " 1", "1 ", "0x1", "+1", "1.0", "x", ""];
const USERS = ["alice", "ALICE", "bob", "anonymous", "alice@pop.test", "alice+folder", "", " ", "a".repeat(300), "user\tname"];
const B64 = ["=", "*", "AGFsaWNlAGFsaWNlLXB3", "AGFsaWNlAHdyb25n", "YWxpY2U=", "YWxpY2UtcHc=", "bi..", "====", "QQ", "QUJD"];
/** A valid SCRAM client-first for alice: it costs the server a key derivation, so it comes rarely. */
const SCRAM_FIRST = "biwsbj1hbGljZSxyPXh5eg==";

function token(rng: Rng, choices: readonly string[]): string {
  return rng.pick(choices);
}

function randomBytes(rng: Rng, length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += String.fromCharCode(rng.below(256));
  return s;
}

/** One command line from the grammar, before mutation (latin1 text, CRLF not included). */
function grammarLine(rng: Rng): string {
  const keyword = token(rng, KEYWORDS);
  switch (keyword) {
    case "USER":
      return `USER ${token(rng, USERS)}`;
    case "PASS":
      return `PASS ${rng.pick(["alice-pw", "wrong", "", " alice-pw", "x".repeat(rng.below(600))])}`;
    case "APOP":
      return `APOP ${token(rng, USERS)} ${rng.pick(["0123456789abcdef0123456789abcdef", "00", "g".repeat(32), "0123456789ABCDEF0123456789ABCDEF"])}`;
    case "AUTH":
      if (rng.chance(0.2)) return "AUTH";
      return `AUTH ${token(rng, MECHS)}${rng.chance(0.6) ? " " + (rng.chance(0.02) ? SCRAM_FIRST : token(rng, B64)) : ""}`;
    case "RETR":
    case "DELE":
    case "LIST":
    case "UIDL":
      return rng.chance(0.2) ? keyword : `${keyword} ${token(rng, NUMBERS)}`;
    case "TOP":
      return `TOP ${token(rng, NUMBERS)} ${token(rng, NUMBERS)}`;
    default:
      return rng.chance(0.1) ? `${keyword} ${token(rng, NUMBERS)}` : keyword;
  }
}

/** Mutations that keep the line recognisable often enough to reach deep states. */
function mutate(rng: Rng, line: string): string {
  if (!rng.chance(0.35)) return line;
  switch (rng.below(9)) {
    case 0:
      return line.toLowerCase();
    case 1: {
      const at = rng.below(line.length + 1);
      return line.slice(0, at) + "\0" + line.slice(at);
    }
    case 2: {
      const at = rng.below(line.length + 1);
      return line.slice(0, at) + rng.pick(["\r", "\n", "\r\r", " ", "\t", "\x0b"]) + line.slice(at);
    }
    case 3:
      return line.slice(0, rng.below(line.length + 1));
    case 4:
      return line + " " + line;
    case 5:
      return line + "A".repeat(rng.pick([100, 1029, 2047, 8190, 8191, 8192, 21848, 30000]));
    case 6:
      return randomBytes(rng, rng.below(200));
    case 7:
      return " " + line;
    default:
      return line + " ";
  }
}

/** The bytes of one line as a client would send them (terminator varies too). */
function wireLine(rng: Rng): string {
  const eol = rng.chance(0.9) ? "\r\n" : rng.pick(["\n", "\r", ""]);
  return mutate(rng, grammarLine(rng)) + eol;
}

/** A transport that throws output away but checks its -ERR lines; STLS handshakes succeed or fail at random. */
class FuzzIO implements SessionIO {
  readonly clientHost = "[192.0.2.7]";
  tlsActive = false;
  badLine: string | undefined;
  bytesOut = 0;
  private tail = "";
  constructor(private readonly rng: Rng) {}

  write(data: Uint8Array): boolean {
    this.bytesOut += data.length;
    // only the status lines matter; keep the check cheap on long bodies
    const text = this.tail + Buffer.from(data.subarray(0, Math.min(data.length, 4096))).toString("latin1");
    let start = 0;
    for (;;) {
      const end = text.indexOf("\r\n", start);
      if (end < 0) break;
      const line = text.slice(start, end);
      if (line.startsWith("-ERR") && !/^-ERR [\x20-\x7e]*$/.test(line)) this.badLine ??= line;
      start = end + 2;
    }
    this.tail = data.length > 4096 ? "" : text.slice(start).slice(-200);
    // sometimes the "kernel" is full: the session must wait for drained()
    return !this.rng.chance(0.05);
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
  paused = false;
  pauseInput(): void {
    this.paused = true;
  }
  resumeInput(): void {
    this.paused = false;
  }
  startTls = async (): Promise<boolean> => {
    const ok = this.rng.chance(0.5);
    if (ok) this.tlsActive = true;
    return ok;
  };
}

const ALLOWED_ENDS: ReadonlySet<SessionEnd> = new Set(["quit", "eof", "tls-failed", "notice", "idle"]);

export interface FuzzResult {
  lines: number;
  episodes: number;
  proxyHeaders: number;
}

async function withHangGuard(done: Promise<SessionEnd>, what: () => string): Promise<SessionEnd> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what()}`)), 10_000);
  });
  try {
    return await Promise.race([done, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** One session fed `count` fuzzed lines in random-sized chunks, then EOF. */
async function episode(rng: Rng, count: number): Promise<void> {
  // a fresh mailbox each time: QUITs with DELEs must not empty it for the episodes after
  const store = fuzzStore(rng.chance(0.05) ? 300 * 1024 : 2 * 1024);
  const io = new FuzzIO(rng);
  const settings = testSettings({ starttlsAvailable: true, allowAnonymous: rng.chance(0.3), serverinfo: "on" });
  const session = new Session(io, { settings, store, passdb: testPassdb, log: silentLog });
  const done = session.start();
  let input = rng.chance(0.4) ? LOGIN : "";
  for (let i = 0; i < count; i++) input += wireLine(rng);
  const bytes = Buffer.from(input, "latin1");
  for (let at = 0; at < bytes.length && !session.isOver; ) {
    // like a socket: nothing is delivered while the session has paused its input
    for (let spins = 0; io.paused && !session.isOver && spins < 10_000; spins++) await Promise.resolve();
    const size = 1 + rng.below(rng.chance(0.1) ? 16 : 4096);
    session.receive(bytes.subarray(at, at + size));
    at += size;
    if (rng.chance(0.3)) await Promise.resolve();
  }
  session.receiveEnd();
  const end = await withHangGuard(done, () => `session did not end after its input; last input ${JSON.stringify(input.slice(-300))}`);
  if (!ALLOWED_ENDS.has(end)) throw new Error(`session ended "${end}" (an exception escaped); input ${JSON.stringify(input.slice(-500))}`);
  if (io.badLine !== undefined) throw new Error(`malformed -ERR line ${JSON.stringify(io.badLine)}; input ${JSON.stringify(input.slice(-300))}`);
}

const PROXY_SAMPLES = [
  "PROXY TCP4 192.0.2.7 127.0.0.1 5555 110\r\n",
  "PROXY TCP6 2001:db8::7 ::1 4444 110\r\n",
  "PROXY UNKNOWN\r\n",
  "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x07\x7f\x00\x00\x01\x15\xb3\x00\x6e",
  "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00",
];

/** PROXY headers: parsing never throws, and an accepted header is never longer than the input. */
function proxyCase(rng: Rng): void {
  let text = rng.pick(PROXY_SAMPLES);
  for (let i = rng.below(4); i > 0; i--) text = mutate(rng, text);
  if (rng.chance(0.3)) text = text.slice(0, rng.below(text.length + 1));
  if (rng.chance(0.3)) text += wireLine(rng);
  const bytes = Buffer.from(text, "latin1");
  const verdict = parseProxyHeader(bytes);
  if (verdict.status === "ok" && (verdict.length <= 0 || verdict.length > bytes.length)) {
    throw new Error(`PROXY header of ${verdict.length} bytes claimed from ${bytes.length}: ${JSON.stringify(text)}`);
  }
}

/** A fresh session after the run: login, STAT, LIST, QUIT, all answered. */
export async function freshSessionWorks(store: MemoryStore): Promise<void> {
  const chunks: Buffer[] = [];
  const io: SessionIO = {
    clientHost: "[192.0.2.8]",
    tlsActive: false,
    write: (data) => (chunks.push(Buffer.from(data)), true),
    drained: () => Promise.resolve(),
    close: () => {},
    pauseInput: () => {},
    resumeInput: () => {},
  };
  const session = new Session(io, { settings: testSettings(), store, passdb: testPassdb, log: silentLog });
  const done = session.start();
  session.receive(Buffer.from(`${LOGIN}STAT\r\nLIST\r\nQUIT\r\n`));
  const end = await withHangGuard(done, () => "fresh session");
  const text = Buffer.concat(chunks).toString("latin1");
  if (end !== "quit" || !/\+OK Mailbox locked and ready[^\r]*\r\n\+OK \d+ \d+\r\n\+OK scan listing follows\r\n[\s\S]*\.\r\n\+OK\r\n$/.test(text)) {
    throw new Error(`a fresh session after fuzzing failed (${end}): ${JSON.stringify(text.slice(-400))}`);
  }
}

/** Runs until `lines` command lines were fed (or the time budget is spent); throws on the first failure. */
export async function fuzz(seed: number, lines: number, budgetMs = Infinity): Promise<FuzzResult> {
  const rng = new Rng(seed);
  const started = Date.now();
  const result: FuzzResult = { lines: 0, episodes: 0, proxyHeaders: 0 };
  while (result.lines < lines && Date.now() - started < budgetMs) {
    const count = 1 + rng.below(rng.chance(0.1) ? 400 : 40);
    await episode(rng, count);
    result.lines += count;
    result.episodes++;
    for (let i = 0; i < 4; i++) proxyCase(rng);
    result.proxyHeaders += 4;
  }
  await freshSessionWorks(testStore());
  return result;
}
