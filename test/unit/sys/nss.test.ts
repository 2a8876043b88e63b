/**
 * pop3_run_as is looked up through NSS (getpwnam_r, getgrouplist in src/sys/libc.ts), so it sees
 * what `getent` and `id` see — LDAP or sssd accounts included — not only /etc/passwd lines.
 */
import { expect, test } from "bun:test";
import { groupListOf, lookupUserByName } from "../../../src/sys/libc.ts";

function sh(args: string[]): string {
  const r = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : "";
}

test("a user's uid, gid and groups are what getent and id report", () => {
  for (const name of ["root", "nobody", "cyrus"]) {
    const entry = sh(["getent", "passwd", name]);
    if (entry === "") continue; // not on this machine
    const [, , uid, gid] = entry.split(":");
    const user = lookupUserByName(name);
    expect(user).toEqual({ uid: Number(uid), gid: Number(gid) });
    const groups = sh(["id", "-G", name]).split(/\s+/).map(Number).sort((a, b) => a - b);
    expect(groupListOf(name, user!.gid).sort((a, b) => a - b)).toEqual([...new Set(groups)]);
  }
});

test("an unknown user is undefined, not an error", () => {
  expect(lookupUserByName("no-such-user-pop3d-test")).toBeUndefined();
});
