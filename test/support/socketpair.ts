/**
 * A connected AF_UNIX stream pair for driving stdio (inetd) mode without a network launcher, and a
 * plain pipe (Bun.spawn's "pipe" stdio is a socketpair, so it cannot stand in for a real pipe).
 * bun:ffi stays in this test-support file: the server's own libc bindings are not for tests.
 */
import { dlopen, ptr } from "bun:ffi";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
/** Neither end leaks into other children; the spawned server gets its end dup2()ed onto 0/1/2. */
const SOCK_CLOEXEC = 0o2000000;

const libc = dlopen("libc.so.6", {
  socketpair: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  pipe2: { args: ["ptr", "i32"], returns: "i32" },
});
const O_CLOEXEC = 0o2000000;

/** [ours, theirs]: give `theirs` to the child as stdin/stdout, close it here after spawning. */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  if (libc.symbols.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ptr(fds)) !== 0) {
    throw new Error("socketpair(AF_UNIX, SOCK_STREAM) failed");
  }
  return [fds[0]!, fds[1]!];
}

export function closeFd(fd: number): void {
  libc.symbols.close(fd);
}

/** [readEnd, writeEnd] of a pipe(2). */
export function pipePair(): [number, number] {
  const fds = new Int32Array(2);
  if (libc.symbols.pipe2(ptr(fds), O_CLOEXEC) !== 0) throw new Error("pipe2 failed");
  return [fds[0]!, fds[1]!];
}
