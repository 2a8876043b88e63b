/**
 * Which Cyrus IMAP is installed next to us, so that a drop-in behaves like the pop3d it replaces
 * where Cyrus releases differ (docs/compatibility.md lists each difference and its version).
 *
 * Start-up must stay cheap (an inetd launcher starts one process per connection), so the
 * sources are tried cheapest first and the first answer wins:
 *  1. Debian's `cyrus-hardwired-config.txt` (`PACKAGE_VERSION 3.6.1-4+deb12u5`): one small file;
 *  2. the dpkg status stanza of cyrus-common (one read of /var/lib/dpkg/status);
 *  3. the version string compiled into libcyrus_min (`cyrus-imapd 3.6.1...`), read once and
 *     remembered in a cache file keyed by the library's inode, size and mtime, so an upgrade of
 *     Cyrus is noticed at the next start.
 * Nothing is executed: running `cyr_info version` would cost tens of milliseconds and needs a
 * readable imapd.conf.
 */
import { existsSync, openSync, readFileSync, readSync, closeSync, fstatSync, statSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";

export interface CyrusVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

export interface InstalledCyrus {
  readonly version: CyrusVersion;
  /** The full text found, e.g. "3.6.1-4+deb12u5". */
  readonly text: string;
  /** Where it was found, for the start-up log. */
  readonly source: string;
}

/** The releases we imitate; a bare series means its first release (x.y.0). */
export const COMPAT_SERIES = ["3.6", "3.8", "3.10", "3.12"] as const;

/** The version we follow when no Cyrus is found: the newest series we implement. */
export const NEWEST: CyrusVersion = { major: 3, minor: 12, patch: 1 };

export function parseCyrusVersion(text: string): CyrusVersion | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(text.trim());
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: m[3] === undefined ? 0 : Number(m[3]) };
}

export function formatVersion(v: CyrusVersion): string {
  return `${v.major}.${v.minor}.${v.patch}`;
}

/** Negative, zero or positive, like a comparator. */
export function compareVersions(a: CyrusVersion, b: CyrusVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export const atLeast = (v: CyrusVersion, major: number, minor: number, patch = 0) =>
  compareVersions(v, { major, minor, patch }) >= 0;

/**
 * The series we imitate for a detected version: the newest of COMPAT_SERIES not above it (a
 * 3.7 development release behaves as 3.6; anything newer than 3.12 as 3.12).
 */
export function seriesOf(v: CyrusVersion): (typeof COMPAT_SERIES)[number] {
  let chosen: (typeof COMPAT_SERIES)[number] = COMPAT_SERIES[0];
  for (const s of COMPAT_SERIES) if (atLeast(v, 3, Number(s.split(".")[1]))) chosen = s;
  return chosen;
}

/** Where Cyrus's programs live on the platforms we know (Debian, Fedora/RHEL, source builds). */
const LIBEXEC_DIRS = ["/usr/lib/cyrus/bin", "/usr/libexec/cyrus-imapd", "/usr/lib/cyrus-imapd", "/usr/local/libexec/cyrus-imapd"];
const LIB_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

export interface DetectOptions {
  /** Our own executable: a Cyrus installed beside it is the one we replace. */
  readonly execPath?: string;
  /** Where the library-scan result is remembered; unset = no cache file. */
  readonly cacheFile?: string;
  /** Test seam: a root prefix for every absolute path probed. */
  readonly root?: string;
}

function hardwiredConfig(root: string, libexecDirs: readonly string[]): InstalledCyrus | undefined {
  for (const bin of libexecDirs) {
    const path = join(root, dirname(bin), "cyrus-hardwired-config.txt");
    let text: string;
    try {
      text = readFileSync(path, "latin1");
    } catch {
      continue;
    }
    const m = /^PACKAGE_VERSION\s+(\S+)/m.exec(text);
    const version = m ? parseCyrusVersion(m[1]!) : undefined;
    if (version) return { version, text: m![1]!, source: path };
  }
  return undefined;
}

function dpkgStatus(root: string): InstalledCyrus | undefined {
  const path = join(root, "/var/lib/dpkg/status");
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
  for (const pkg of ["cyrus-common", "cyrus-imapd"]) {
    const at = text.indexOf(`\nPackage: ${pkg}\n`);
    const start = at >= 0 ? at : text.startsWith(`Package: ${pkg}\n`) ? 0 : -1;
    if (start < 0) continue;
    const end = text.indexOf("\n\n", start + 1);
    const stanza = text.slice(start, end < 0 ? undefined : end);
    if (!/^Status: install ok installed$/m.test(stanza)) continue;
    const m = /^Version: (?:\d+:)?(\S+)$/m.exec(stanza);
    const version = m ? parseCyrusVersion(m[1]!) : undefined;
    if (version) return { version, text: m![1]!, source: `${path} (${pkg})` };
  }
  return undefined;
}

/** "cyrus-imapd 3.6.1-Debian-…" as cyr_info prints it comes from this string in the library. */
const LIBRARY_MARK = Buffer.from("cyrus-imapd ");
const SCAN_CHUNK = 1 << 20;

function scanLibrary(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(SCAN_CHUNK + 64);
    let carry = 0;
    for (let pos = 0; pos < size; ) {
      const n = readSync(fd, buf, carry, SCAN_CHUNK, pos);
      if (n <= 0) break;
      pos += n;
      const view = buf.subarray(0, carry + n);
      let at = view.indexOf(LIBRARY_MARK);
      while (at >= 0) {
        const tail = view.subarray(at + LIBRARY_MARK.length, at + LIBRARY_MARK.length + 48);
        const m = /^(\d+\.\d+\.\d+[^\0\s]*)/.exec(tail.toString("latin1"));
        if (m) return m[1];
        at = view.indexOf(LIBRARY_MARK, at + 1);
      }
      // keep a tail so a mark split across two reads is still found
      const keep = Math.min(64, view.length);
      view.copy(buf, 0, view.length - keep);
      carry = keep;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function libraryVersion(root: string, cacheFile: string | undefined): InstalledCyrus | undefined {
  for (const dir of LIB_DIRS) {
    const path = join(root, dir, "libcyrus_min.so.0");
    let key: string;
    try {
      const st = statSync(path);
      key = `${st.ino} ${st.size} ${st.mtimeMs}`;
    } catch {
      continue;
    }
    if (cacheFile) {
      try {
        const [cachedKey, cachedText] = readFileSync(cacheFile, "latin1").split("\n");
        const version = cachedKey === `${path} ${key}` && cachedText ? parseCyrusVersion(cachedText) : undefined;
        if (version) return { version, text: cachedText!, source: `${path} (cached in ${cacheFile})` };
      } catch {
        // no cache yet
      }
    }
    const text = scanLibrary(path);
    const version = text ? parseCyrusVersion(text) : undefined;
    if (!version) continue;
    if (cacheFile) {
      try {
        mkdirSync(dirname(cacheFile), { recursive: true, mode: 0o755 });
        writeFileSync(`${cacheFile}.new`, `${path} ${key}\n${text}\n`, { mode: 0o644 });
        renameSync(`${cacheFile}.new`, cacheFile);
      } catch {
        // the cache only saves time; without it the next start scans again
      }
    }
    return { version, text: text!, source: path };
  }
  return undefined;
}

let remembered: { key: string; value: InstalledCyrus | undefined } | undefined;

/** The installed Cyrus, or undefined when none is found. Remembered for the process's lifetime. */
export function detectInstalledCyrus(options: DetectOptions = {}): InstalledCyrus | undefined {
  const root = options.root ?? "";
  const key = `${root}\0${options.execPath ?? ""}\0${options.cacheFile ?? ""}`;
  if (remembered?.key === key) return remembered.value;
  const dirs = [...LIBEXEC_DIRS];
  // a pop3d installed inside Cyrus's libexec directory names the Cyrus it replaces first
  if (options.execPath) {
    const own = dirname(options.execPath);
    if (existsSync(join(root, own, "master"))) dirs.unshift(own);
  }
  const value = hardwiredConfig(root, dirs) ?? dpkgStatus(root) ?? libraryVersion(root, options.cacheFile);
  remembered = { key, value };
  return value;
}
