/**
 * `make install` into a DESTDIR: the binary where master(8) looks for it (CYRUS_LIBEXEC), the man
 * page under PREFIX, and the example files; and `pop3d --version` naming the version in
 * package.json, the Bun release it was built with and the commit.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { BINARY, ROOT, run, tempDir } from "../../support/harness.ts";

const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; devDependencies: { bun: string } };

describe("make install", () => {
  test("puts the binary, the man page and the examples under DESTDIR", async () => {
    const dest = tempDir("install");
    const r = await run(
      ["make", "--no-print-directory", "install", `DESTDIR=${dest}`, "PREFIX=/opt/p3", "CYRUS_LIBEXEC=/opt/cyrus/bin"],
      { cwd: ROOT },
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const binary = join(dest, "opt/cyrus/bin/pop3d");
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    expect(Buffer.compare(readFileSync(binary), readFileSync(BINARY))).toBe(0);
    expect(readFileSync(join(dest, "opt/p3/share/man/man8/pop3d.8"), "utf8")).toContain('.TH "POP3D" "8"');
    expect(readdirSync(join(dest, "opt/p3/share/doc/pop3d/examples")).sort()).toEqual(
      [...readdirSync(join(ROOT, "packaging/examples")), "systemd"].sort(),
    );
    expect(readdirSync(join(dest, "opt/p3/share/doc/pop3d/examples/systemd")).sort()).toEqual(
      readdirSync(join(ROOT, "examples/systemd")).sort(),
    );
    // the operator documentation, next to the examples
    const docs = readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md"));
    expect(docs).toContain("install.md");
    for (const doc of docs) expect(readFileSync(join(dest, "opt/p3/share/doc/pop3d", doc))).toEqual(readFileSync(join(ROOT, "docs", doc)));
  });
});

describe("--version", () => {
  test("prints the version, the Bun release and the commit it was built from", async () => {
    const r = await run([BINARY, "--version"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.toString().split("\n");
    expect(lines[0]).toBe(`pop3d ${packageJson.version}`);
    expect(lines[1]).toBe(`built with Bun ${packageJson.devDependencies.bun}`);
    const git = await run(["git", "rev-parse", "HEAD"], { cwd: ROOT });
    if (git.code !== 0) {
      // a source tree without git history builds as "unknown"
      expect(lines[2]).toBe("commit unknown");
      return;
    }
    const head = git.stdout.toString().trim();
    const commit = /^commit ([0-9a-f]{12})(-modified)?$/.exec(lines[2] ?? "");
    expect(commit).not.toBeNull();
    expect(head.startsWith(commit![1]!)).toBe(true);
  });
});
