/**
 * The operator documentation holds together: every relative link in README.md and docs/*.md
 * names a file that exists, and every docs page is reachable from README.md or another page.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = join(import.meta.dir, "../../..");
const DOCS = join(ROOT, "docs");
const pages = [join(ROOT, "README.md"), ...readdirSync(DOCS).filter((f) => f.endsWith(".md")).map((f) => join(DOCS, f))];

/** Relative link targets of a Markdown page, without #anchors. */
function links(page: string): string[] {
  const text = readFileSync(page, "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!.split("#")[0]!)
    .filter((target) => target !== "" && !/^[a-z]+:/.test(target));
}

describe("docs/", () => {
  test("every relative link points to a file in the repository", () => {
    const broken: string[] = [];
    expect(pages.flatMap(links).length).toBeGreaterThan(20);
    for (const page of pages) {
      for (const target of links(page)) {
        if (!existsSync(normalize(join(dirname(page), target)))) broken.push(`${relative(ROOT, page)} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  test("every page is linked from README.md or another page", () => {
    const linked = new Set(pages.flatMap((page) => links(page).map((t) => normalize(join(dirname(page), t)))));
    const orphans = pages.filter((p) => !p.endsWith("README.md") && !linked.has(p)).map((p) => relative(ROOT, p));
    expect(orphans).toEqual([]);
  });
});
