/** What `pop3d --check-config` found: errors (exit 78) and warnings, printed in the order found. */
export type Severity = "error" | "warning";

export interface Finding {
  readonly severity: Severity;
  /** Starts with `file:line: key:` where the problem has a line, or `file: key:` otherwise. */
  readonly message: string;
}

export class Findings {
  readonly list: Finding[] = [];

  error(message: string): void {
    this.list.push({ severity: "error", message });
  }

  warning(message: string): void {
    this.list.push({ severity: "warning", message });
  }

  get errors(): number {
    return this.list.filter((f) => f.severity === "error").length;
  }

  get warnings(): number {
    return this.list.filter((f) => f.severity === "warning").length;
  }

  lines(): string[] {
    return this.list.map((f) => `${f.severity}: ${f.message}`);
  }
}
