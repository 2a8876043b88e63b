/**
 * No internal text on the wire: an unexpected exception becomes Cyrus's fixed fatal text, with the
 * detail (errno, paths) in the log only; every -ERR the engine can send is a PopError from one table.
 */
import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Session } from "../../../src/pop3/session.ts";
import { E, PopError, maildropOpenFailed } from "../../../src/pop3/responses.ts";
import { StoreError } from "../../../src/store/maildrop.ts";
import type { Log } from "../../../src/log/log.ts";
import { BackpressureIO, settle } from "./backpressure-io.ts";
import { LOGIN, configDirectory, testPassdb, testSettings, testStore } from "./session-fixture.ts";

afterAll(() => rmSync(configDirectory, { recursive: true, force: true }));

function recordingLog(): { log: Log; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  const log = { err: at("err"), warning: at("warning"), notice: at("notice"), info: at("info"), debug: at("debug") } as unknown as Log;
  return { log, lines };
}

test("an internal exception while opening the maildrop: a fixed text to the client, the detail to the log", async () => {
  const io = new BackpressureIO(1 << 20);
  const store = testStore();
  store.openError = new Error("EACCES: permission denied, open '/var/spool/secret/alice/cur'") as StoreError;
  const { log, lines } = recordingLog();
  const session = new Session(io, { settings: testSettings(), store, passdb: testPassdb, log });
  const done = session.start();
  session.receive(Buffer.from(LOGIN));
  expect(await done).toBe("fatal");
  io.clientReads();
  expect(io.text).toEndWith("+OK Name is a valid mailbox\r\n-ERR [SYS/PERM] Fatal error: System I/O error\r\n");
  expect(io.text).not.toContain("secret");
  expect(lines.some((l) => l.startsWith("err: Fatal error: EACCES") && l.includes("/var/spool/secret"))).toBe(true);
});

test("a store's error text reaches the client as one clean line, never its detail", () => {
  const reply = maildropOpenFailed("perm", "Mailbox is locked\r\n+OK injected\x00");
  expect(reply.line).toBe("-ERR [SYS/PERM] Unable to open maildrop: Mailbox is locked");
  const error = new StoreError("temp", "Mailbox does not exist", "/var/mail/alice/Maildir: ENOENT");
  expect(maildropOpenFailed(error.kind as "temp", error.message).line).not.toContain("ENOENT");
});

test("every fixed -ERR is a PopError whose line is '-ERR [code] text' on one line", () => {
  for (const error of Object.values(E)) {
    expect(error).toBeInstanceOf(PopError);
    expect(error.line).toMatch(/^-ERR (\[[A-Z/-]+\] )?[\x20-\x7e]+$/);
  }
});

test("a handler that throws a PopError gets it sent and the session goes on", async () => {
  const io = new BackpressureIO(1 << 20);
  const session = new Session(io, { settings: testSettings(), store: testStore(), passdb: testPassdb, log: recordingLog().log });
  void session.start();
  session.receive(Buffer.from(`${LOGIN}RETR 9\r\nLIST x\r\nNOOP\r\n`));
  await settle();
  io.clientReads();
  expect(io.text).toEndWith("-ERR No such message\r\n-ERR Not a number\r\n+OK\r\n");
  session.shutdown();
});
