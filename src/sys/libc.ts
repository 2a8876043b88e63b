/**
 * The one place the server talks to libc (bun:ffi). The library is opened on first use so that an
 * inetd-spawned process that never needs it pays nothing at startup.
 */
import { dlopen, read, type FFIFunction, type Library } from "bun:ffi";

/** Every libc function we call, declared once; add new symbols here and a typed wrapper below. */
const LIBC_SYMBOLS = {
  __errno_location: { args: [], returns: "ptr" },
  // fcntl is variadic; the lock commands always pass a struct pointer as the third argument,
  // and declaring it that way works on x86_64/aarch64 (checked with Bun 1.4.4's bun:ffi).
  fcntl: { args: ["i32", "i32", "ptr"], returns: "i32" },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  accept4: { args: ["i32", "ptr", "ptr", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  dup: { args: ["i32"], returns: "i32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  connect: { args: ["i32", "ptr", "u32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
  getpwnam_r: { args: ["ptr", "ptr", "ptr", "u64", "ptr"], returns: "i32" },
  getgrouplist: { args: ["ptr", "u32", "ptr", "ptr"], returns: "i32" },
  getrlimit: { args: ["i32", "ptr"], returns: "i32" },
  send: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
  recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i64" },
  geteuid: { args: [], returns: "u32" },
  setgroups: { args: ["u64", "ptr"], returns: "i32" },
  setgid: { args: ["u32"], returns: "i32" },
  setuid: { args: ["u32"], returns: "i32" },
} as const satisfies Record<string, FFIFunction>;

type LibcSymbols = Library<typeof LIBC_SYMBOLS>["symbols"];

let symbols: LibcSymbols | undefined;

function libc(): LibcSymbols {
  if (symbols === undefined) {
    if (process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) {
      // struct layouts and command numbers below are those of 64-bit Linux (asm-generic).
      throw new Error(`libc bindings support 64-bit Linux only, not ${process.platform}/${process.arch}`);
    }
    symbols = dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  }
  return symbols;
}

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM", 2: "ENOENT", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 12: "ENOMEM",
  13: "EACCES", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 35: "EDEADLK", 37: "ENOLCK", 38: "ENOSYS",
  88: "ENOTSOCK",
};

export const EINTR = 4;
export const EAGAIN = 11;
export const EACCES = 13;

/** The calling thread's errno, as left by the last libc call. */
export function errno(): number {
  const location = libc().__errno_location();
  if (location === null) throw new Error("__errno_location returned NULL");
  return read.i32(location, 0);
}

export function errnoName(code: number): string {
  return ERRNO_NAMES[code] ?? `errno ${code}`;
}

/** A failed libc call, with the errno that explains it. */
export class LibcError extends Error {
  readonly code: string;
  constructor(
    call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: ${errnoName(errno)} (errno ${errno})`);
    this.name = "LibcError";
    this.code = errnoName(errno);
  }
}

// <fcntl.h>, asm-generic values.
const F_GETLK = 5;
const F_SETLK = 6;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const SEEK_SET = 0;

// struct flock on 64-bit Linux: l_type i16 @0, l_whence i16 @2, l_start i64 @8, l_len i64 @16,
// l_pid i32 @24, 32 bytes in all (struct flock on x86_64 and aarch64 Linux).
const FLOCK_SIZE = 32;
const flockBuffer = new Uint8Array(FLOCK_SIZE);
const flockView = new DataView(flockBuffer.buffer);

export type LockType = "read" | "write" | "unlock";

const LOCK_TYPE_CODES: Readonly<Record<LockType, number>> = { read: F_RDLCK, write: F_WRLCK, unlock: F_UNLCK };

function fillFlock(type: LockType, start: number, len: number): void {
  flockBuffer.fill(0);
  flockView.setInt16(0, LOCK_TYPE_CODES[type], true);
  flockView.setInt16(2, SEEK_SET, true);
  flockView.setBigInt64(8, BigInt(start), true);
  flockView.setBigInt64(16, BigInt(len), true);
}

function fcntlLockCall(fd: number, command: number, commandName: string, type: LockType): void {
  const fns = libc();
  for (;;) {
    if (fns.fcntl(fd, command, flockBuffer) === 0) return;
    const code = errno();
    if (code === EINTR) continue;
    throw new LibcError(`fcntl(${fd}, ${commandName}, ${type})`, code);
  }
}

/**
 * POSIX record lock without waiting (F_SETLK). `len` 0 means "to the end of the file, however
 * far it grows". Returns false when another process holds a conflicting lock.
 *
 * POSIX locks belong to the process: closing any descriptor of the file drops all of the process's
 * locks on it, and they never conflict with other locks of the same process.
 */
export function fcntlSetLock(fd: number, type: LockType, start = 0, len = 0): boolean {
  fillFlock(type, start, len);
  try {
    fcntlLockCall(fd, F_SETLK, "F_SETLK", type);
    return true;
  } catch (error) {
    if (error instanceof LibcError && (error.errno === EAGAIN || error.errno === EACCES)) return false;
    throw error;
  }
}

export interface LockHolder {
  readonly type: "read" | "write";
  readonly pid: number;
  readonly start: number;
  readonly len: number;
}

/** F_GETLK: the first lock of another process that would block `type`, or null if none would. */
export function fcntlGetLock(fd: number, type: "read" | "write", start = 0, len = 0): LockHolder | null {
  fillFlock(type, start, len);
  fcntlLockCall(fd, F_GETLK, "F_GETLK", type);
  const found = flockView.getInt16(0, true);
  if (found === F_UNLCK) return null;
  return {
    type: found === F_WRLCK ? "write" : "read",
    pid: flockView.getInt32(24, true),
    start: Number(flockView.getBigInt64(8, true)),
    len: Number(flockView.getBigInt64(16, true)),
  };
}

// ---- sockets, poll, identity: master mode (master/service.c:main), syslog (docs/troubleshooting.md), privilege drop (master/service.c:main) -------------

const POLLIN = 0x001;
const POLLHUP = 0x010;
const POLLRDHUP = 0x2000;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;

const pollBuffer = new Uint8Array(8);
const pollView = new DataView(pollBuffer.buffer);

/**
 * poll(2) one fd for readability, blocking the JS thread for at most `timeoutMs` (keep it short:
 * signal handlers and timers run only between calls). Returns true when readable.
 */
export function pollReadable(fd: number, timeoutMs: number): boolean {
  pollView.setInt32(0, fd, true);
  pollView.setInt16(4, POLLIN, true);
  pollView.setInt16(6, 0, true);
  const n = libc().poll(pollBuffer, 1, timeoutMs);
  if (n < 0) {
    const code = errno();
    if (code === EINTR) return false;
    throw new LibcError(`poll(${fd})`, code);
  }
  return n > 0 && (pollView.getInt16(6, true) & POLLIN) !== 0;
}

/** poll(2) for the peer having shut down its side (POLLRDHUP), without waiting. */
export function peerHungUp(fd: number): boolean {
  pollView.setInt32(0, fd, true);
  pollView.setInt16(4, POLLRDHUP, true);
  pollView.setInt16(6, 0, true);
  if (libc().poll(pollBuffer, 1, 0) <= 0) return false;
  return (pollView.getInt16(6, true) & (POLLRDHUP | POLLHUP)) !== 0;
}

const IPPROTO_TCP = 6;
const TCP_NOTSENT_LOWAT = 25;
const optionValue = new Int32Array(1);

/**
 * TCP_NOTSENT_LOWAT (tcp(7)): the kernel takes no more writes on this socket while `bytes` or
 * more of them are still unsent, and reports it writable again below that. Data in flight is not
 * counted, so throughput does not suffer. False (nothing changed) when fd is not a TCP socket.
 */
export function limitUnsentBytes(fd: number, bytes: number): boolean {
  optionValue[0] = bytes;
  return libc().setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, optionValue, 4) === 0;
}

/** accept4(2) a connection as a non-blocking, close-on-exec fd; -errno on failure. */
export function acceptConnection(listenFd: number): number {
  const fd = libc().accept4(listenFd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
  return fd >= 0 ? fd : -errno();
}

export function closeFd(fd: number): void {
  libc().close(fd);
}

/** dup(2): a second descriptor of the same open socket or file; -errno on failure. */
export function duplicateFd(fd: number): number {
  const copy = libc().dup(fd);
  return copy >= 0 ? copy : -errno();
}

/** A datagram socket connected to a unix socket path (syslog's /dev/log); -1 when unavailable. */
export function connectUnixDatagram(path: string): number {
  const fns = libc();
  const fd = fns.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // struct sockaddr_un: sa_family u16, then sun_path[108]
  const address = new Uint8Array(110);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  const encoded = new TextEncoder().encode(path);
  if (encoded.length >= 108) {
    fns.close(fd);
    return -1;
  }
  address.set(encoded, 2);
  if (fns.connect(fd, address, 2 + encoded.length + 1) !== 0) {
    fns.close(fd);
    return -1;
  }
  return fd;
}

/** send(2) one datagram without blocking or raising SIGPIPE; false when it was not sent. */
export function sendDatagram(fd: number, data: Uint8Array): boolean {
  return libc().send(fd, data, data.length, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0;
}

export function effectiveUid(): number {
  return libc().geteuid();
}

/** Drop root for good: supplementary groups, then gid, then uid (order matters). */
export function dropPrivileges(uid: number, gid: number, supplementary: readonly number[] = []): void {
  const fns = libc();
  const groups = new Uint32Array([gid, ...supplementary.filter((g) => g !== gid)]);
  if (fns.setgroups(groups.length, groups) !== 0) throw new LibcError("setgroups", errno());
  if (fns.setgid(gid) !== 0) throw new LibcError(`setgid(${gid})`, errno());
  if (fns.setuid(uid) !== 0) throw new LibcError(`setuid(${uid})`, errno());
}

const MSG_PEEK = 0x02;

/**
 * recv(2) without blocking: with `peek` the bytes stay queued for whoever reads next (how Cyrus
 * reads a PROXY header without eating the TLS ClientHello behind it, imap/haproxy.c:haproxy_read_hdr). Returns the byte
 * count, 0 at EOF, or -errno (-EAGAIN when nothing is there yet).
 */
export function receiveBytes(fd: number, into: Uint8Array, length: number, peek: boolean): number {
  const n = Number(libc().recv(fd, into, length, MSG_DONTWAIT | (peek ? MSG_PEEK : 0)));
  return n >= 0 ? n : -errno();
}

// ---- listening sockets: inetd wait = yes (SO_ACCEPTCONN), standalone workers (shared fds) -----

const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
/** The backlog Bun.listen uses too. */
const LISTEN_BACKLOG = 511;

/** getsockopt(SO_ACCEPTCONN): whether `fd` is a socket in the listening state. */
export function isListeningSocket(fd: number): boolean {
  const value = new Int32Array(1);
  const length = new Uint32Array([4]);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, value, length) !== 0) return false;
  return value[0] !== 0;
}

/** The 4 or 16 bytes of a numeric IPv4/IPv6 address; undefined for anything else. */
function addressBytes(host: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? new Uint8Array(parts) : undefined;
  }
  if (!host.includes(":")) return undefined;
  const [head = "", tail, extra] = host.split("::");
  if (extra !== undefined) return undefined;
  const groups = (text: string) => (text === "" ? [] : text.split(":"));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const missing = 8 - front.length - back.length;
  if ((tail === undefined && missing !== 0) || missing < 0) return undefined;
  const all = [...front, ...Array<string>(missing).fill("0"), ...back];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/i.test(all[i]!)) return undefined;
    const value = Number.parseInt(all[i]!, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  return bytes;
}

/**
 * A listening TCP socket bound to a numeric address (close-on-exec; a child that should share it
 * gets it through its stdio mapping). Returns the fd and the bound port (port 0 picks one).
 */
export function listenTcp(host: string, port: number): { fd: number; port: number } {
  const bytes = addressBytes(host);
  if (!bytes) throw new Error(`cannot listen on "${host}": a numeric IPv4 or IPv6 address is needed with pop3_workers`);
  const fns = libc();
  const v6 = bytes.length === 16;
  const fd = fns.socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new LibcError("socket", errno());
  const address = new Uint8Array(v6 ? 28 : 16);
  const view = new DataView(address.buffer);
  view.setUint16(0, v6 ? AF_INET6 : AF_INET, true);
  view.setUint16(2, port, false);
  address.set(bytes, v6 ? 8 : 4);
  const one = new Int32Array([1]);
  try {
    if (fns.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) !== 0) throw new LibcError("setsockopt(SO_REUSEADDR)", errno());
    if (fns.bind(fd, address, address.length) !== 0) throw new LibcError(`bind(${host}:${port})`, errno());
    if (fns.listen(fd, LISTEN_BACKLOG) !== 0) throw new LibcError("listen", errno());
    const length = new Uint32Array([address.length]);
    if (fns.getsockname(fd, address, length) !== 0) throw new LibcError("getsockname", errno());
  } catch (error) {
    fns.close(fd);
    throw error;
  }
  return { fd, port: view.getUint16(2, false) };
}

const PR_SET_PDEATHSIG = 1;

/**
 * prctl(PR_SET_PDEATHSIG): the kernel sends `signal` to this process when its parent exits. A
 * credential change clears it, so call it after leaving root.
 */
export function signalOnParentDeath(signal: number): void {
  if (libc().prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0) !== 0) throw new LibcError("prctl(PR_SET_PDEATHSIG)", errno());
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/**
 * O_NONBLOCK on an open file description (shared with every process holding it): an accept(2)
 * that loses the race to a sibling then fails with EAGAIN instead of blocking the JS thread.
 */
export function setNonBlocking(fd: number): void {
  const fns = libc();
  // F_GETFL/F_SETFL take an int where the lock commands take a pointer; both travel in the same
  // register on x86_64 and aarch64
  const flags = fns.fcntl(fd, F_GETFL, null);
  if (flags < 0) throw new LibcError(`fcntl(${fd}, F_GETFL)`, errno());
  if ((flags & O_NONBLOCK) !== 0) return;
  if (fns.fcntl(fd, F_SETFL, (flags | O_NONBLOCK) as never) !== 0) throw new LibcError(`fcntl(${fd}, F_SETFL)`, errno());
}


// ---- users and groups through NSS (LDAP, sssd, files: whatever nsswitch.conf says) -------------

const ERANGE = 34;
/** struct passwd on 64-bit glibc: pw_name, pw_passwd (pointers), pw_uid u32 @16, pw_gid u32 @20, … 48 bytes. */
const PASSWD_SIZE = 48;

const cString = (text: string): Uint8Array => new TextEncoder().encode(`${text}\0`);

/** getpwnam_r(3): the user's uid and primary gid, or undefined when NSS knows no such user. */
export function lookupUserByName(name: string): { uid: number; gid: number } | undefined {
  const fns = libc();
  const pwd = new Uint8Array(PASSWD_SIZE);
  const result = new BigUint64Array(1);
  for (let size = 1024; size <= 1 << 20; size *= 4) {
    const buffer = new Uint8Array(size);
    const rc = fns.getpwnam_r(cString(name), pwd, buffer, size, result);
    if (rc === ERANGE) continue;
    if (rc !== 0) throw new LibcError(`getpwnam_r(${name})`, rc);
    if (result[0] === 0n) return undefined;
    const view = new DataView(pwd.buffer);
    return { uid: view.getUint32(16, true), gid: view.getUint32(20, true) };
  }
  throw new LibcError(`getpwnam_r(${name})`, ERANGE);
}

/** getgrouplist(3): every group of the user (the primary `gid` included), as initgroups(3) sets them. */
export function groupListOf(name: string, gid: number): number[] {
  const fns = libc();
  let count = 32;
  for (;;) {
    const groups = new Uint32Array(count);
    const n = new Int32Array([count]);
    if (fns.getgrouplist(cString(name), gid, groups, n) >= 0) return [...groups.subarray(0, n[0])];
    if (n[0]! <= count) throw new Error(`getgrouplist(${name}) failed`);
    count = n[0]!;
  }
}

const RLIMIT_NOFILE = 7;

/** The soft limit on open descriptors (RLIMIT_NOFILE); Infinity when unlimited or unknown. */
export function descriptorLimit(): number {
  const limits = new BigUint64Array(2);
  if (libc().getrlimit(RLIMIT_NOFILE, limits) !== 0) return Infinity;
  const soft = limits[0]!;
  return soft >= BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(soft);
}
