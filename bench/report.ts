/** The figures-vs-targets table printed at the end of a run. Informative only: nothing asserts. */

export type Direction = "higher" | "lower";

export interface Row {
  figure: string;
  value: number | undefined;
  unit: string;
  /** Target from the issue; undefined for context rows. */
  target?: number;
  better?: Direction;
  note?: string;
}

function formatValue(v: number | undefined, unit: string): string {
  if (v === undefined || Number.isNaN(v)) return "n/a";
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${unit}`;
}

export function verdict(row: Row): string {
  if (row.target === undefined || row.value === undefined || Number.isNaN(row.value)) return "";
  const ok = row.better === "lower" ? row.value <= row.target : row.value >= row.target;
  if (ok) return "meets";
  const gap = row.better === "lower" ? row.value / row.target : row.target / row.value;
  return `misses (x${gap.toFixed(2)})`;
}

export function renderTable(rows: Row[]): string {
  // no peer columns: this bench runs only our server, and a peer's figure must be measured beside
  // ours in the same run (Cyrus is, by `make bench`'s modes step)
  const header = ["figure", "measured", "target", "verdict"];
  const cells = rows.map((r) => [
    r.figure,
    formatValue(r.value, r.unit),
    r.target === undefined ? "" : `${r.better === "lower" ? "<=" : ">="} ${r.target} ${r.unit}`,
    verdict(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join("  ").trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("  ")];
  for (let i = 0; i < rows.length; i++) {
    out.push(line(cells[i]!));
    if (rows[i]!.note) out.push(`    ${rows[i]!.note}`);
  }
  return out.join("\n");
}
