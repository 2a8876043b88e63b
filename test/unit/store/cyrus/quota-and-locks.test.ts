import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CyrusStore } from "../../../../src/store/cyrus/cyrus-store.ts";
import { updateQuotaUsage } from "../../../../src/store/cyrus/quota-legacy.ts";
import { copySpool, type SpoolCopy } from "./store-fixture.ts";

let cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup) c();
  cleanup = [];
});

function quotaFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "quota-"));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "quota/a"), { recursive: true });
  const path = join(dir, "quota/a/user.alice");
  writeFileSync(path, text);
  return path;
}

describe("quotalegacy updates", () => {
  test("usage changes, MODSEQ moves on, limits stay", async () => {
    const path = quotaFile("%(S (11538143 100000) M (7) AS (0) NF (1) MODSEQ 9)\n");
    expect(await updateQuotaUsage(path, "user.alice", { storage: -1436, messages: -2, annotStorage: 0 })).toBe(true);
    expect(readFileSync(path, "utf8")).toBe("%(S (11536707 100000) M (5) AS (0) NF (1) MODSEQ 10)\n");
  });

  test("usage never goes negative; the old text format is rewritten as a dlist", async () => {
    const path = quotaFile("100\n-1 M 1 -1\n");
    await updateQuotaUsage(path, "user.alice", { storage: -500, messages: -1, annotStorage: 0 });
    expect(readFileSync(path, "utf8")).toBe("%(S (0) M (0) AS (0) NF (0) MODSEQ 1)\n");
  });

  test("a running quota -f scan past this mailbox is kept up to date", async () => {
    const path = quotaFile("%(S (5000) M (3) AS (0) NF (1) SCAN %(MBOX user.alice.z S 4000 M 2 AS 0 NF 1) MODSEQ 2)\n");
    await updateQuotaUsage(path, "user.alice", { storage: -1000, messages: -1, annotStorage: 0 });
    expect(readFileSync(path, "utf8")).toBe("%(S (4000) M (2) AS (0) NF (1) SCAN %(MBOX user.alice.z S 3000 M 1 AS 0 NF 1) MODSEQ 3)\n");
  });

  test("a root without a file reports false", async () => {
    expect(await updateQuotaUsage("/nonexistent/quota/a/user.alice", "user.alice", { storage: 1, messages: 1, annotStorage: 0 })).toBe(false);
  });
});

/** A separate process holding an fcntl lock on `path` until its stdin closes, as a Cyrus process would. */
async function holdLock(path: string, exclusive: boolean): Promise<Bun.Subprocess<"pipe", "pipe", "inherit">> {
  const script = `import fcntl,sys\nf=open(sys.argv[1],'r+b')\nfcntl.lockf(f,${exclusive ? "fcntl.LOCK_EX" : "fcntl.LOCK_SH"})\nprint('locked',flush=True)\nsys.stdin.read()\n`;
  const proc = Bun.spawn(["python3", "-c", script, path], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  expect(Buffer.from(value ?? []).toString()).toStartWith("locked");
  return proc;
}

describe("Cyrus's locks", () => {
  let spool: SpoolCopy;
  afterEach(() => spool?.remove());

  test("QUIT waits while a Cyrus process holds cyrus.index, then commits", async () => {
    spool = copySpool();
    const drop = await new CyrusStore(spool.options()).open("carol", undefined);
    const before = spool.index();
    const holder = await holdLock(join(spool.carolDir, "cyrus.index"), true);
    let done = false;
    const commit = drop.commit({ deleted: [0], retrieved: [] }).then((r) => ((done = true), r));
    await Bun.sleep(50);
    expect(done).toBe(false);
    expect(spool.index()).toEqual(before);
    holder.stdin.end();
    expect((await commit).expunged).toBe(1);
    expect(spool.index()).not.toEqual(before);
  });

  test("a reader's shared lock on mailboxes.db does not hold up a login; a writer's does", async () => {
    spool = copySpool();
    const db = join(spool.dir, "conf/mailboxes.db");
    const reader = await holdLock(db, false);
    expect((await new CyrusStore(spool.options()).open("carol", undefined)).messages.length).toBe(4);
    reader.stdin.end();
    await reader.exited;

    const writer = await holdLock(db, true);
    let opened = false;
    const open = new CyrusStore(spool.options()).open("carol", undefined).then((d) => ((opened = true), d));
    await Bun.sleep(50);
    expect(opened).toBe(false);
    writer.stdin.end();
    expect((await open).messages.length).toBe(4);
  });
});
