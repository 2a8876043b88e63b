/**
 * pop3d(8) as `make man` builds it: groff renders it without a single warning, its CONFIGURATION
 * section lists exactly the options `pop3d --help-config` prints, and every command-line option in
 * the usage text has its own entry.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, ROOT, run } from "../../support/harness.ts";

const MAN_PAGE = join(ROOT, "dist/pop3d.8");
let page: string;

beforeAll(async () => {
  // the page depends on the option table, so make rebuilds it whenever src/ changes
  const made = await run(["make", "--no-print-directory", "-s", "man"], { cwd: ROOT });
  if (made.code !== 0) throw new Error(`make man failed: ${made.stderr}`);
  page = readFileSync(MAN_PAGE, "utf8");
});

/** The roff source between two .SH headings. */
function section(name: string): string {
  const start = page.indexOf(`.SH ${name}\n`);
  if (start < 0) throw new Error(`no .SH ${name}`);
  const end = page.indexOf("\n.SH ", start + 1);
  return page.slice(start, end < 0 ? undefined : end);
}

const unroff = (word: string) => word.replaceAll("\\-", "-").replaceAll("\\e", "\\");

describe("pop3d(8)", () => {
  test("groff -ww renders it with no warnings", async () => {
    const r = await run(["groff", "-ww", "-z", "-b", "-man", "-Tutf8", MAN_PAGE]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("mandoc -T lint finds nothing, style included (ASCII input, no line over 80 bytes)", async () => {
    const r = await run(["mandoc", "-T", "lint", MAN_PAGE]);
    expect(r.stdout.toString() + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("has the sections an operator looks for", () => {
    for (const name of ["NAME", "SYNOPSIS", "DESCRIPTION", "LAUNCH MODES", "OPTIONS", "CONFIGURATION", "SIGNALS", "EXIT STATUS", "FILES", "SEE ALSO"]) {
      expect(page).toContain(`\n.SH ${name}\n`);
    }
  });

  test("CONFIGURATION lists exactly the options --help-config prints, in the same order", async () => {
    const help = await run([BINARY, "--help-config"]);
    expect(help.code).toBe(0);
    const fromHelp = [...help.stdout.toString().matchAll(/^ {2}([a-z0-9_]+) {2}\(/gm)].map((m) => m[1]);
    const fromPage = [...section("CONFIGURATION").matchAll(/^\.B (\S+)$/gm)].map((m) => unroff(m[1]!));
    expect(fromHelp.length).toBeGreaterThan(50);
    expect(fromPage).toEqual(fromHelp);
  });

  test("every option of the usage text has an entry under OPTIONS", async () => {
    const usage = await run([BINARY, "--help"]);
    const words = new Set([...usage.stdout.toString().matchAll(/\[(-{1,2}[a-zA-Z-]+)/g)].map((m) => m[1]!));
    expect(words.size).toBeGreaterThan(10);
    const entries = [...section("OPTIONS").matchAll(/^\.TP\n\.BI? (\S+)/gm)].map((m) => unroff(m[1]!));
    for (const word of words) expect(entries).toContain(word);
  });
});
