/**
 * No import cycles in src/, type-only imports included, so every module can be read on its own;
 * and the layers import one way (main → server → pop3 → {auth, store} → {config, log, sys}).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : name.endsWith(".ts") ? [path] : [];
  });
}

/** Static imports and re-exports (type-only ones too) and dynamic import("...") of relative modules. */
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec === undefined || !spec.startsWith(".")) continue;
    targets.push(resolve(dirname(file), spec));
  }
  return targets;
}

/** Strongly connected components with more than one module (or a module importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component);
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

test("src/ has no import cycles, type-only imports included", () => {
  const graph = new Map(sourceFiles(SRC).map((file) => [file, importsOf(file)]));
  expect(graph.size).toBeGreaterThan(50);
  const found = cycles(graph).map((c) => c.map((f) => relative(SRC, f)).sort());
  expect(found).toEqual([]);
});

test("the cycle finder sees a type-only cycle", () => {
  const graph = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["a.ts"]],
    ["c.ts", ["a.ts"]],
  ]);
  expect(cycles(graph)).toEqual([["b.ts", "a.ts"]]);
  expect(importsOf(join(SRC, "pop3/session-context.ts")).map((f) => relative(SRC, f))).toContain("pop3/session-state.ts");
});

/**
 * The layers, top to bottom; a module may import its own layer's modules (the cycle test above
 * keeps those acyclic) and any lower layer, never a higher one. cli.ts, limits.ts and version.ts
 * are pure leaves every layer may use.
 */
const LAYER_OF: Record<string, number> = {
  "main.ts": 0,
  "check-config": 0,
  server: 1,
  proxy: 1,
  pop3: 2,
  auth: 3,
  store: 3,
  config: 4,
  log: 4,
  sys: 4,
  "cli.ts": 5,
  "limits.ts": 5,
  "version.ts": 5,
  types: 5,
};

test("imports go one way: main → server → pop3 → {auth, store} → {config, log, sys}", () => {
  const upward: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split("/")[0]!;
    for (const target of importsOf(file)) {
      const rel = relative(SRC, target);
      if (rel.startsWith("..")) continue;
      const to = rel.split("/")[0]!;
      const a = LAYER_OF[from];
      const b = LAYER_OF[to];
      if (a === undefined || b === undefined) {
        upward.push(`${relative(SRC, file)}: layer of ${a === undefined ? from : to} unknown (add it to LAYER_OF)`);
      } else if (b < a) {
        upward.push(`${relative(SRC, file)} imports ${rel}`);
      }
    }
  }
  expect(upward).toEqual([]);
});
