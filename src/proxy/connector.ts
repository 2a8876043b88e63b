/**
 * The frontend side of a Cyrus Murder (docs/murder.md): the BackendConnector sessions use to reach
 * the backend that holds a user's mailbox, configured by the options Cyrus's backend_connect reads
 * (proxy_authname, proxy_password or `<shorthost>_password`, `<shorthost>_mechs` or
 * force_sasl_client_mech, tls_client_cert/tls_client_key or `<shorthost>_client_cert/_client_key`,
 * client_timeout).
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Config } from "../config/config.ts";
import type { BackendConnector, BackendLink, BackendLogin } from "../pop3/backend-link.ts";
import { BackendSocket, BackendSocketError, type ClientTlsOptions } from "./backend-socket.ts";
import { pop3Login } from "./pop3-login.ts";
import { parseServerAddress, type ServerAddress } from "./server-address.ts";

function words(text: string | undefined): string[] | undefined {
  const list = text?.split(/[\s,]+/).filter(Boolean).map((w) => w.toUpperCase());
  return list && list.length > 0 ? list : undefined;
}

/**
 * Cyrus's TLS client (tls.c:tls_init_clientengine) does not verify the backend's certificate
 * (SSL_VERIFY_NONE); Murder links are inside the site. It presents a client certificate when one is
 * configured, which a backend may map to an identity.
 */
function clientTls(cfg: Config, address: ServerAddress): ClientTlsOptions {
  const certFile = cfg.raw(`${address.shortHost}_client_cert`) ?? cfg.str("tls_client_cert");
  const keyFile = cfg.raw(`${address.shortHost}_client_key`) ?? cfg.str("tls_client_key") ?? certFile;
  const options: ClientTlsOptions = { rejectUnauthorized: false };
  if (isIP(address.host) === 0) options.serverName = address.host;
  if (certFile) {
    options.cert = readFileSync(certFile, "utf8");
    if (keyFile) options.key = readFileSync(keyFile, "utf8");
  }
  return options;
}

export function createBackendConnector(cfg: Config): BackendConnector {
  return {
    async login(server: string, authzid: string): Promise<BackendLogin> {
      const address = parseServerAddress(server);
      if (typeof address === "string") return { ok: false, failure: "unavailable", detail: `bad server name: ${address}` };
      const timeoutMs = cfg.seconds("client_timeout") * 1000;
      let tls: ClientTlsOptions;
      try {
        tls = clientTls(cfg, address);
      } catch (error) {
        return { ok: false, failure: "unavailable", detail: `TLS client certificate: ${(error as Error).message}` };
      }
      let sock: BackendSocket;
      try {
        sock = await BackendSocket.connect(address.host, address.port, address.implicitTls ? tls : undefined, timeoutMs);
      } catch (error) {
        if (!(error instanceof BackendSocketError)) throw error;
        return { ok: false, failure: "unavailable", detail: `connect(${server}) failed: ${error.message}` };
      }
      const password = cfg.raw(`${address.shortHost}_password`) ?? cfg.str("proxy_password");
      if (address.noAuth) {
        sock.close();
        return { ok: false, failure: "auth", detail: `${server}: "noauth" backends serve no POP3 logins` };
      }
      if (password === undefined) {
        sock.close();
        return { ok: false, failure: "auth", detail: `no proxy_password (or ${address.shortHost}_password) configured` };
      }
      const result = await pop3Login(
        sock,
        {
          authcid: cfg.str("proxy_authname") ?? "proxy",
          password,
          authzid,
          allowedMechs: words(cfg.raw(`${address.shortHost}_mechs`) ?? cfg.str("force_sasl_client_mech")),
        },
        tls,
        timeoutMs,
      );
      if (!result.ok) {
        sock.close();
        return result;
      }
      const link: BackendLink = {
        server,
        status: result.status,
        attach: (sink) => sock.attach(sink),
        write: (data) => sock.write(data),
        drained: () => sock.drained(),
        pauseInput: () => sock.pauseInput(),
        resumeInput: () => sock.resumeInput(),
        close: () => sock.close(),
      };
      return { ok: true, link };
    },
  };
}
