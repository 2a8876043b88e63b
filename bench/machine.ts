/** What the figures were measured on, for RESULTS.md. */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

function firstMatch(text: string, re: RegExp): string {
  return re.exec(text)?.[1]?.trim() ?? "unknown";
}

export function machineDescription(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  const memKb = Number(firstMatch(meminfo, /^MemTotal:\s+(\d+)/m));
  const kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  const os = firstMatch(readFileSync("/etc/os-release", "utf8"), /^PRETTY_NAME="?([^"\n]*)/m);
  return [
    `date: ${new Date().toISOString()}`,
    `cpu: ${firstMatch(cpuinfo, /^model name\s*:\s*(.*)$/m)}, ${availableParallelism()} cores`,
    `ram: ${(memKb / 1024 / 1024).toFixed(1)} GiB`,
    `os: ${os}, kernel ${kernel}`,
    `bun: ${Bun.version} (${Bun.revision.slice(0, 9)})`,
  ].join("\n");
}

/** Other work on the machine skews every figure; the load average makes that visible. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

/** CPU seconds all processes have spent busy since boot (/proc/stat, USER_HZ = 100). */
export function systemBusySeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (fields[i] ?? 0), 0);
  return busy / 100;
}

/** The busiest processes right now (a bench run should start on a quiet machine). */
export function busiestProcesses(count = 5): string {
  const r = Bun.spawnSync(["ps", "-eo", "pcpu,etime,comm", "--sort=-pcpu"], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().trim().split("\n").slice(0, count + 1).join("\n");
}
