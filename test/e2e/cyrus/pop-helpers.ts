/** POP sessions and Cyrus consistency checks shared by the Cyrus end-to-end tests. */
import { expect } from "bun:test";
import { PopClient } from "../../support/harness.ts";
import type { CyrusInstance } from "./cyrus-instance.ts";

export async function loginPop(port: number, user: string, password: string): Promise<PopClient> {
  const c = await PopClient.connect(port);
  expect(await c.cmd(`USER ${user}`)).toBe("+OK Name is a valid mailbox");
  expect(await c.cmd(`PASS ${password}`)).toStartWith("+OK Mailbox locked and ready");
  return c;
}

export interface Listing {
  stat: string;
  list: string[];
  uidl: string[];
}

export async function popListing(c: PopClient): Promise<Listing> {
  const stat = await c.cmd("STAT");
  expect(await c.cmd("LIST")).toStartWith("+OK");
  const list = (await c.readMultiline()).lines;
  expect(await c.cmd("UIDL")).toStartWith("+OK");
  const uidl = (await c.readMultiline()).lines;
  return { stat, list, uidl };
}

/** RETR n: the message bytes before dot-stuffing, CRLF line ends as sent. */
export async function retrieve(c: PopClient, n: number): Promise<Buffer> {
  expect(await c.cmd(`RETR ${n}`)).toBe("+OK Message follows");
  return (await c.readMultiline()).body;
}

/**
 * Cyrus's own verdict on the user's mailboxes: `reconstruct -n` (report only, also re-parsing
 * every message file) names each mailbox and reports nothing else, and `mbexamine -q` finds the
 * INBOX's quota usage right.
 */
export async function expectConsistent(cyrus: CyrusInstance, userid: string): Promise<void> {
  const reconstruct = await cyrus.tool("reconstruct", ["-n", "-G", "-f", "-u", userid]);
  const lines = reconstruct.stdout.toString().split("\n").filter(Boolean);
  expect(reconstruct.code).toBe(0);
  expect(lines[0]).toBe(`user/${userid}`);
  // Mailbox names only: any finding would be a line like "user.alice: updating exists 6 => 5".
  expect(lines.filter((l) => l !== `user/${userid}` && !/^user\/\S+$/.test(l))).toEqual([]);
  const examine = await cyrus.tool("mbexamine", ["-q", `user/${userid}`]);
  expect(examine.code).toBe(0);
  expect(examine.stdout.toString()).toContain("Mailbox has CORRECT total quota usage");
}
