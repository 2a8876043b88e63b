/**
 * Every protocol limit and fixed delay, defined once with its reason.
 * Config-driven values (poptimeout, failedloginpause, ...) live in the option table instead.
 */

/** Cyrus reads commands with an 8192-byte buffer: at most 8191 bytes per line, longer lines are
 *  split and run as several commands, never rejected (prot.c:prot_fgets with pop3d.c:cmdloop's buffer). */
export const MAX_COMMAND_LINE = 8191;

/** SASL continuation lines: Cyrus reads them into a 21848-byte buffer (base64 of 16 KiB), so at
 *  most 21847 bytes come in one read; the rest is read as the next command (pop3d.c:cmd_auth). */
export const MAX_SASL_LINE = 21847;

/** Lines a Murder backend sends during the proxy login: Cyrus reads them with a 2047-byte buffer
 *  (backend.c:ask_capability); a longer line is cut there. */
export const MAX_BACKEND_LINE = 2047;

/** Cyrus's SASL command line limit for POP3 AUTH with an initial response (pop3d.c: pop3_protocol,
 *  255): a longer PLAIN response is sent after the server's empty challenge instead. */
export const MAX_BACKEND_AUTH_LINE = 255;

/** RFC 1939 section 3 requires an idle timer of at least 10 minutes; Cyrus clamps poptimeout to it (pop3d.c:service_main). */
export const MIN_IDLE_TIMEOUT_SECONDS = 600;

/** Cyrus sleeps a hard 3 s before every "Unable to open maildrop" reply (pop3d.c:openinbox). */
export const MAILDROP_OPEN_FAILURE_PAUSE_MS = 3000;

/** Read size for message streaming (one process-wide buffer, so its size costs nothing per session);
 *  bench/RESULTS.md measured 256 KiB a little faster than 64 KiB. */
export const STREAM_READ_CHUNK = 256 * 1024;

/** Pipelined input buffered while earlier commands are still being answered; beyond this we stop
 *  reading from the socket (pause) so a client that never reads cannot make us buffer without
 *  bound. Reading resumes whenever the buffer holds no complete line, so longer lines still fit. */
export const MAX_PENDING_INPUT = 16 * 1024;

/** Input already read from the socket (one read can bring 512 KiB) that a session keeps while its
 *  client does not read the answers. Beyond this the client is disconnected, as Dovecot does with
 *  "Input buffer full": no real client pipelines 128 KiB of commands without reading any answer. */
export const MAX_INPUT_WHILE_UNREAD = 128 * 1024;

/** Answers to pipelined commands are collected up to this much before they are handed to the
 *  transport; beyond it, or while the transport still holds unsent bytes, the session takes no
 *  further command and reads no input until the client has read its answers (Dovecot's
 *  POP3_OUTBUF_THROTTLE_SIZE idea). Keeps a client that pipelines without reading bounded. */
export const OUTPUT_THROTTLE_BYTES = 4 * 1024;

/** Multi-line bodies (LIST, UIDL) are handed to the transport in pieces of about this size,
 *  waiting for the client in between, so a 100k-message listing costs one piece of memory. */
export const OUTPUT_CORK_BYTES = 16 * 1024;

/** Hard cap on bytes a connection holds for a client that does not read. The session never
 *  writes more after the transport reports unsent bytes, so only one answer or message chunk
 *  (STREAM_READ_CHUNK stuffed) can be there; beyond this the connection is dropped as broken. */
export const MAX_QUEUED_OUTPUT = 1024 * 1024;

/** A session that ended (idle timeout, QUIT, fatal error) flushes its last answer for at most
 *  this long before the connection is cut; SIGTERM cuts at once (pop3d.c:shut_down). */
export const CLOSE_DRAIN_DEADLINE_MS = 5000;

/** Standalone SIGTERM: sessions get this long to finish before they are cut (design: graceful stop). */
export const GRACEFUL_STOP_SECONDS = 30;

/** Anonymous passwords are logged truncated to 500 bytes (pop3d.c:cmd_pass). */
export const MAX_ANONYMOUS_PASSWORD_LOG = 500;

/** Canonical user names are at most 80 bytes with auth_mech unix (lib/auth_unix.c). */
export const MAX_USERNAME_BYTES = 80;

/** Reverse lookup of the client's address for the log lines ("mx.example.net [192.0.2.7]", as
 *  Cyrus's get_clienthost writes them). Cyrus waits for it before the greeting; we never delay the
 *  greeting and wait at most this long before the first command is run, then log "[ip]". */
export const CLIENT_NAME_LOOKUP_MS = 2000;
/** One answer (or its absence) names every connection from that address for this long, as nscd
 *  would: a process taking hundreds of connections from a few addresses (a NAT, a proxy) does one
 *  lookup instead of hundreds, each of which costs a resolver thread's work and memory. */
export const CLIENT_NAME_CACHE_MS = 60_000;
export const CLIENT_NAME_CACHE_ENTRIES = 1024;

/** A TLS handshake (pop3s, or after STLS) that has not completed within this is dropped, as
 *  Cyrus's tls_start_servertls does with its fixed 180 s timeout. */
export const TLS_HANDSHAKE_SECONDS = 180;

/** Commands a session runs back to back before it lets the rest of the process run (a macrotask:
 *  other sessions' I/O, timers, new connections). The kernel accepts megabytes of small answers on
 *  loopback before it reports backpressure, so without this one client pipelining STAT without
 *  reading would hold a multi-session process for seconds. 100 commands are well under a ms. */
export const COMMANDS_PER_TURN = 100;

/** Answer bytes a session hands to the transport before it lets the rest of the process run, for
 *  the same reason: a big listing (LIST, UIDL) or many pipelined answers to a client whose kernel
 *  buffers take everything would otherwise be written in one go. */
export const OUTPUT_BYTES_PER_TURN = 64 * 1024;

/** Descriptors a many-sessions process keeps free below RLIMIT_NOFILE for what its sessions open
 *  besides their socket (mail files, locks, the log socket) and for the moment a connection it
 *  refuses is open. Live connections stop at the limit minus this, so accept(2) never fails with
 *  EMFILE (a listener that stays readable while accept fails spins the CPU, and its clients wait
 *  in the backlog with no answer). */
export const DESCRIPTOR_RESERVE = 64;

/** A process at its descriptor budget answers new connections with an -ERR and closes them; it
 *  listens for them only once they have waited this long, so a sibling worker with room (they
 *  share one listening socket) takes them first, and a flood costs one accept burst per interval. */
export const FULL_PROCESS_REFUSAL_DELAY_MS = 100;

/** Answers a client's TCP socket may hold in the kernel unsent (TCP_NOTSENT_LOWAT). Without it
 *  Linux autotunes the send buffer up to 4 MiB, and a client that pipelines without reading gets
 *  that many bytes of small answers computed (seconds of CPU, megabytes of garbage) before the
 *  socket pushes back. Bytes in flight are not counted, so transfers keep their speed. */
export const KERNEL_UNSENT_BYTES = 128 * 1024;

/** A process serving many sessions gives its spare memory back (server/memory-shrinker.ts) once
 *  it has used less than QUIET_CPU_MS of CPU over QUIET_TICK_MS: a second of a full process's
 *  idle connections costs well under that, while any session doing work costs more. */
export const QUIET_TICK_MS = 500;
export const QUIET_CPU_MS = 2;
/** ...and only when its resident size grew at least this much since it last did (a burst of
 *  connections or logins): a process that stays small never drops its compiled code. */
export const SHRINK_AFTER_GROWTH_BYTES = 2 * 1024 * 1024;
/** A process serving many sessions collects its heap soon after a login (server/login-heap-settler.ts),
 *  at most once this often: a burst of logins then costs a few collections a second, each a few ms
 *  on a heap of a few MB, while each login's garbage is gone before later sessions' objects are placed. */
export const LOGIN_GC_INTERVAL_MS = 100;
