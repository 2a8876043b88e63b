/**
 * The backend address a mailboxes.db entry names, parsed as Cyrus's backend_connect does:
 * `host[:port[/option]...]`, where the port may be a number or a service name and the options are
 * `tls` (TLS from the first byte) and `noauth` (no login). Without a port, POP3's own (110).
 * IPv6 literals go in brackets: `[::1]:1110`.
 */
const SERVICE_PORTS: Record<string, number> = { pop3: 110, pop: 110, pop3s: 995 };
const POP3_PORT = 110;

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly implicitTls: boolean;
  readonly noAuth: boolean;
  /**
   * The host up to its first dot, the prefix of `<shorthost>_password` and friends
   * (backend.c:backend_authenticate), so "127.0.0.1:1110" gives "127". Cyrus cuts the whole server
   * string, which for a dotless host with a port yields a key imapd.conf cannot hold; we cut the host.
   */
  readonly shortHost: string;
}

export function parseServerAddress(server: string): ServerAddress | string {
  let host = server;
  let rest: string | undefined;
  if (server.startsWith("[")) {
    const close = server.indexOf("]");
    if (close < 0) return `unterminated [ in "${server}"`;
    host = server.slice(1, close);
    const after = server.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) return `junk after ] in "${server}"`;
    rest = after === "" ? undefined : after.slice(1);
  } else {
    const colon = server.indexOf(":");
    if (colon >= 0) {
      host = server.slice(0, colon);
      rest = server.slice(colon + 1);
    }
  }
  if (host === "") return `no host in "${server}"`;
  let port = POP3_PORT;
  let implicitTls = false;
  let noAuth = false;
  if (rest !== undefined) {
    const [service = "", ...options] = rest.split("/");
    if (/^\d+$/.test(service)) port = Number(service);
    else if (SERVICE_PORTS[service] !== undefined) port = SERVICE_PORTS[service]!;
    else return `unknown port "${service}" in "${server}"`;
    if (port < 1 || port > 65535) return `port ${service} out of range in "${server}"`;
    for (const option of options) {
      if (option === "tls") implicitTls = true;
      else if (option === "noauth") noAuth = true;
    }
  }
  return { host, port, implicitTls, noAuth, shortHost: host.split(".", 1)[0]! };
}
