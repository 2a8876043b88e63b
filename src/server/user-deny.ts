/**
 * Wires Cyrus's user_deny.db (see auth/deny-db.ts) into a service: the login policy refuses a
 * denied user (admins exempt, global.c:mysasl_proxy_policy) and the session checks it before
 * every command once a user is named (pop3d.c:cmdloop). The twoskip reader lives in the store
 * layer, so this is where the two meet.
 */
import { closeSync, openSync } from "node:fs";
import type { Config } from "../config/config.ts";
import type { Log } from "../log/log.ts";
import { UserDenyDb, type DenyDbFormat, type TwoskipGet } from "../auth/deny-db.ts";

const READABLE: readonly string[] = ["flat", "twoskip"];

/** One unlocked read; a torn read fails its CRC check and is reported, and the user allowed. */
const twoskipGet: TwoskipGet = (path, key) => {
  const { TwoskipSnapshot } = require("../store/cyrus/twoskip.ts") as typeof import("../store/cyrus/twoskip.ts");
  const fd = openSync(path, "r");
  try {
    return new TwoskipSnapshot(fd, path).get(key);
  } finally {
    closeSync(fd);
  }
};

export function userDenyFromConfig(cfg: Config, log: Log): UserDenyDb | undefined {
  const format = cfg.str("userdeny_db") ?? "flat";
  if (!READABLE.includes(format)) {
    log.warning(`userdeny_db: ${format} is not supported (only flat and twoskip); user_deny.db is ignored and nobody is denied`);
    return undefined;
  }
  return new UserDenyDb({
    path: cfg.str("userdeny_db_path")!,
    format: format as DenyDbFormat,
    twoskipGet,
    warn: (m) => log.warning(m),
  });
}
