/**
 * What /proc says about a server made of several processes (Cyrus master and its children, or a
 * standalone parent and its workers): the live descendants of a pid, their summed PSS (shared pages
 * split between the processes that map them, so the sum is the memory the whole service really
 * takes) with its anonymous and file-backed parts, and the CPU time of the whole tree, reaped
 * children included.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat CPU times (USER_HZ, 100 on Linux x86_64). */
const USER_HZ = 100;

interface StatFields {
  ppid: number;
  /** utime + stime of the process itself, seconds. */
  selfCpu: number;
  /** cutime + cstime: children it has waited for, seconds. */
  reapedCpu: number;
}

function statOf(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return undefined;
  }
  // after "pid (comm) ": state is field 3; ppid 4, utime 14, stime 15, cutime 16, cstime 17
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    ppid: Number(f[1]),
    selfCpu: (Number(f[11]) + Number(f[12])) / USER_HZ,
    reapedCpu: (Number(f[13]) + Number(f[14])) / USER_HZ,
  };
}

/** Every live pid whose ancestry leads to `root` (root excluded). */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = statOf(Number(name));
    if (s) parentOf.set(Number(name), s.ppid);
  }
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parentOf) {
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU seconds the tree rooted at `root` has used: the root's own time, the children it has reaped
 * (their time arrives in its cutime/cstime when it waits for them), and every live descendant.
 * A child that exits between two readings moves from "live" to "reaped" without being lost.
 */
export function treeCpuSeconds(root: number): number {
  const r = statOf(root);
  if (!r) return Number.NaN;
  let total = r.selfCpu + r.reapedCpu;
  for (const pid of descendants(root)) {
    const s = statOf(pid);
    // a live descendant's own reaped children are not yet in anyone else's cutime
    if (s) total += s.selfCpu + s.reapedCpu;
  }
  return total;
}

/**
 * One process's PSS in kB, whole and split: `anonKb` is heap, stacks and other private memory;
 * `fileKb` is mapped files — for our processes almost all of it the executable's code, which
 * every copy of the program shares, so summed over the processes it counts about once. The rest
 * of `pssKb` (Pss_Shmem) is shared memory, none for a POP3 server.
 */
export interface PssParts {
  pssKb: number;
  anonKb: number;
  fileKb: number;
}

const NO_PSS: PssParts = { pssKb: 0, anonKb: 0, fileKb: 0 };

/** PSS of one process from /proc/<pid>/smaps_rollup (zeros if it is gone). */
export function pssParts(pid: number): PssParts {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "latin1");
  } catch {
    return NO_PSS;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { pssKb: field("Pss"), anonKb: field("Pss_Anon"), fileKb: field("Pss_File") };
}

/** Proportional set size of one process in kB (0 if it is gone). */
export function pssKb(pid: number): number {
  return pssParts(pid).pssKb;
}

export interface PssSum {
  processes: number;
  totalKb: number;
  /** Summed Pss_Anon: memory that is the processes' own. */
  anonKb: number;
  /** Summed Pss_File: mapped files, mostly the shared executable. */
  fileKb: number;
}

export function sumPss(pids: readonly number[]): PssSum {
  const sum: PssSum = { processes: pids.length, totalKb: 0, anonKb: 0, fileKb: 0 };
  for (const pid of pids) {
    const p = pssParts(pid);
    sum.totalKb += p.pssKb;
    sum.anonKb += p.anonKb;
    sum.fileKb += p.fileKb;
  }
  return sum;
}
