/** Response texts and the steps most wire tests share (start a server, connect, log in). */
import { expect } from "bun:test";
import { connectDialog, type Dialog, type Want } from "./dialog.ts";
import { GREETING_WITH_CHALLENGE, MAILBOX_READY } from "./expected.ts";
import { makeFixture, startServer, type FixtureOptions, type RunningServer, type WireFixture } from "./wire-fixture.ts";

export const UNRECOGNIZED = "-ERR Unrecognized command";
export const SYNTAX = "-ERR Syntax error";
export const EXTRA = "-ERR Unexpected extra argument";
export const MISSING = "-ERR Missing argument";
export const NAN = "-ERR Not a number";
export const NO_SUCH = "-ERR No such message";
export const BAD_LINES = "-ERR Invalid number of lines";
export const USER_OK = "+OK Name is a valid mailbox";
export const INVALID_LOGIN = "-ERR [AUTH] Invalid login";
export const INVALID_USER = "-ERR [AUTH] Invalid user";
export const MUST_GIVE_USER = "-ERR [AUTH] Must give USER command";
export const MUST_GIVE_PASS = "-ERR [AUTH] Must give PASS command";
export const AUTH_FAILURE = "-ERR [AUTH] authenticating: authentication failure";
export const BAD_PROTOCOL = "-ERR [AUTH] authenticating: bad protocol / cancel";
export const CAPA_OK = "+OK List of capabilities follows";
export const READY = MAILBOX_READY;
export const GREETING = GREETING_WITH_CHALLENGE;

export interface Started {
  fx: WireFixture;
  srv: RunningServer;
}

export async function serve(opts: FixtureOptions = {}, args: string[] = []): Promise<Started> {
  const fx = makeFixture(opts);
  const srv = await startServer(fx, args);
  return { fx, srv };
}

export async function connect(srv: RunningServer, label = "", greeting: Want = GREETING): Promise<Dialog> {
  return connectDialog(srv.port, label, greeting);
}

export async function login(d: Dialog, user = "alice", password = `${user}-pw`): Promise<void> {
  await d.step(`USER ${user}`, USER_OK);
  await d.step(`PASS ${password}`, READY);
}

/** Connect and log in as alice. */
export async function loggedIn(srv: RunningServer, label = ""): Promise<Dialog> {
  const d = await connect(srv, label);
  await login(d);
  return d;
}

/** Wait until the server has logged `pattern` (an ordering guard; nothing here measures time). */
export async function untilLogged(srv: RunningServer, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 2000 && !pattern.test(srv.stderr()); i++) await Bun.sleep(10);
  expect(srv.stderr()).toMatch(pattern);
}
