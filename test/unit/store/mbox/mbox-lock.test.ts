import { describe, expect, test } from "bun:test";
import { existsSync, openSync, readFileSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileLockTimeoutError } from "../../../../src/sys/file-lock.ts";
import { closeMboxDescriptor, withMboxLock } from "../../../../src/store/mbox/mbox-lock.ts";
import { DOTLOCK_STALE_MS, dotlockPath } from "../../../../src/store/mbox/dotlock.ts";
import { PYTHON, readLine, tempDir } from "./mbox-test-kit.ts";

/** A python process holding an fcntl write lock on `path` until its stdin closes. */
async function foreignFcntlHolder(path: string): Promise<Bun.Subprocess<"pipe", "pipe", "inherit">> {
  const script = "import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nfcntl.lockf(fd,fcntl.LOCK_EX)\nprint('locked',flush=True)\nsys.stdin.read()\n";
  const proc = Bun.spawn([PYTHON, "-c", script, path], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  expect(await readLine(proc.stdout)).toBe("locked");
  return proc;
}

/** Whether another process can take an fcntl write lock on `path` right now. */
function foreignCanLock(path: string): boolean {
  const script = "import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\ntry:\n  fcntl.lockf(fd,fcntl.LOCK_EX|fcntl.LOCK_NB)\nexcept OSError:\n  sys.exit(1)\n";
  return Bun.spawnSync([PYTHON, "-c", script, path]).exitCode === 0;
}

function mbox(): string {
  const path = join(tempDir("lock"), "alice");
  writeFileSync(path, "");
  return path;
}

describe("dotlock and fcntl lock", () => {
  test("while held, other programs see both locks; afterwards neither is left", async () => {
    const path = mbox();
    await withMboxLock(path, (lock) => {
      expect(lock.fd).toBeNumber();
      expect(readFileSync(dotlockPath(path), "latin1")).toBe(`${process.pid}\n`);
      expect(foreignCanLock(path)).toBe(false);
    });
    expect(existsSync(dotlockPath(path))).toBe(false);
    expect(foreignCanLock(path)).toBe(true);
  });

  test("a dotlock broken by someone else is noticed, and theirs is not removed at release", async () => {
    const path = mbox();
    await withMboxLock(path, (lock) => {
      expect(lock.stillHeld()).toBe(true);
      unlinkSync(dotlockPath(path));
      writeFileSync(dotlockPath(path), "1\n");
      expect(lock.stillHeld()).toBe(false);
    });
    expect(readFileSync(dotlockPath(path), "latin1")).toBe("1\n");
  });

  test("a dotlock of a live process makes us wait, then give up", async () => {
    const path = mbox();
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      writeFileSync(dotlockPath(path), `${sleeper.pid}\n`);
      await expect(withMboxLock(path, () => "ran", 150)).rejects.toBeInstanceOf(FileLockTimeoutError);
      expect(readFileSync(dotlockPath(path), "latin1")).toBe(`${sleeper.pid}\n`);
    } finally {
      sleeper.kill();
    }
  });

  test("a dotlock naming a dead process is stale and removed", async () => {
    const path = mbox();
    const gone = Bun.spawnSync(["true"]).pid;
    writeFileSync(dotlockPath(path), `${gone}\n`);
    expect(await withMboxLock(path, () => "ran", 1000)).toBe("ran");
    expect(existsSync(dotlockPath(path))).toBe(false);
  });

  test("an old dotlock is stale even without a pid", async () => {
    const path = mbox();
    writeFileSync(dotlockPath(path), "");
    const old = (Date.now() - DOTLOCK_STALE_MS - 60_000) / 1000;
    utimesSync(dotlockPath(path), old, old);
    expect(await withMboxLock(path, () => "ran", 1000)).toBe("ran");
  });

  test("an fcntl lock held by another process makes us wait for it", async () => {
    const path = mbox();
    const holder = await foreignFcntlHolder(path);
    await expect(withMboxLock(path, () => "ran", 150)).rejects.toBeInstanceOf(FileLockTimeoutError);
    // The dotlock was given back while waiting, so the holder could have taken it too.
    expect(existsSync(dotlockPath(path))).toBe(false);
    const attempt = withMboxLock(path, () => "ran", 5000);
    holder.stdin.end();
    expect(await attempt).toBe("ran");
  });

  test("a missing mbox is locked by its dotlock alone", async () => {
    const path = join(tempDir("lock"), "nobody");
    await withMboxLock(path, (lock) => {
      expect(lock.fd).toBeUndefined();
      expect(existsSync(dotlockPath(path))).toBe(true);
    });
    expect(existsSync(dotlockPath(path))).toBe(false);
  });
});

describe("sessions of one process", () => {
  test("take turns on one mbox", async () => {
    const path = mbox();
    let inside = 0;
    let overlapped = false;
    const work = async () =>
      withMboxLock(path, async () => {
        inside++;
        if (inside > 1) overlapped = true;
        await Bun.sleep(1);
        inside--;
      });
    await Promise.all([work(), work(), work(), work()]);
    expect(overlapped).toBe(false);
  });

  test("closing another descriptor of the mbox does not drop the lock a session holds", async () => {
    const path = mbox();
    const other = openSync(path, "r");
    await withMboxLock(path, () => {
      closeMboxDescriptor(path, other);
      expect(foreignCanLock(path)).toBe(false);
    });
    expect(foreignCanLock(path)).toBe(true);
    // The deferred close happened at release: the descriptor is gone now.
    expect(() => readFileSync(`/proc/self/fd/${other}`)).toThrow();
  });
});
