/**
 * The code stands on its own: comments cite RFC sections, Cyrus source functions
 * (`pop3d.c:cmd_user`) or our docs/ pages, never section marks of a document that is not in the
 * repository; and `pop3d --help-config` shows operators no such marks either.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describeOptions } from "../../src/config/describe.ts";

const ROOT = join(import.meta.dir, "../..");
/** The section sign (U+00A7), and the names of notes that are not in the repository (spelled so
 *  that this file does not match itself). */
const OUTSIDE_CITATION = new RegExp(["\\u00a7", "bun-" + "findings", "transcripts" + "/"].join("|"));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe("self-contained sources", () => {
  test("no section-sign marks or citations of outside notes in src/", () => {
    const found: string[] = [];
    for (const file of files(join(ROOT, "src"))) {
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (OUTSIDE_CITATION.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  test("--help-config shows no such marks", () => {
    expect(describeOptions()).not.toMatch(OUTSIDE_CITATION);
  });
});
