/**
 * Every protocol limit and fixed delay, defined once with its reason.
 * Config-driven values (poptimeout, failedloginpause, ...) live in the option table instead.
 */

/** Cyrus reads commands with an 8192-byte buffer: at most 8191 bytes per line, longer lines are
 *  split and run as several commands, never rejected (§4.1, surprise 13). */
export const MAX_COMMAND_LINE = 8191;

/** SASL continuation lines: Cyrus reads them into a 21848-byte buffer (base64 of 16 KiB), so at
 *  most 21847 bytes come in one read; the rest is read as the next command (§5.11). */
export const MAX_SASL_LINE = 21847;

/** RFC 1939 §3 requires an idle timer of at least 10 minutes; Cyrus clamps poptimeout to it (§5.11). */
export const MIN_IDLE_TIMEOUT_SECONDS = 600;

/** Cyrus sleeps a hard 3 s before every "Unable to open maildrop" reply (§6.5). */
export const MAILDROP_OPEN_FAILURE_PAUSE_MS = 3000;

/** Read size for message streaming (one process-wide buffer, so its size costs nothing per session);
 *  bun-findings §7 and bench/RESULTS.md measured 256 KiB a little faster than 64 KiB. */
export const STREAM_READ_CHUNK = 256 * 1024;

/** Pipelined input buffered while a response is still being written; beyond this we stop reading
 *  from the socket (pause) so a client that never reads cannot make us buffer without bound. */
export const MAX_PENDING_INPUT = 64 * 1024;

/** Standalone SIGTERM: sessions get this long to finish before they are cut (design: graceful stop). */
export const GRACEFUL_STOP_SECONDS = 30;

/** Anonymous passwords are logged truncated to 500 bytes (§4.4). */
export const MAX_ANONYMOUS_PASSWORD_LOG = 500;

/** Canonical user names are at most 80 bytes with auth_mech unix (§6.1). */
export const MAX_USERNAME_BYTES = 80;
