/**
 * TLS settings from the tls_* options (Cyrus's tls.c: tls_init_serverengine), as Bun's TLS options. Certificates are read from disk
 * here, so a reload (SIGHUP in standalone mode) is just calling loadTlsSettings again.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import type { Log } from "../log/log.ts";

export type ClientCertPolicy = "off" | "optional" | "require";

export interface TlsSettings {
  /** Passed to Bun.listen({tls}) and socket.upgradeTLS({tls}). */
  options: Record<string, unknown>;
  clientCerts: ClientCertPolicy;
  /** Whether a client certificate is requested at all (a client CA loaded and policy not off). */
  requestsClientCert: boolean;
}

/** TLS protocol numbers Bun's native options take: strings are refused. */
const VERSION_CODES: Record<string, number> = { tls1_0: 0x0301, tls1_1: 0x0302, tls1_2: 0x0303, tls1_3: 0x0304 };

/** ALPN in wire format: Bun needs the length-prefixed list; a plain "pop3" string never matches. */
const ALPN_POP3 = Buffer.from("\x04pop3", "latin1");

/** OpenSSL's SSL_OP_CIPHER_SERVER_PREFERENCE. */
const CIPHER_SERVER_PREFERENCE = 0x00400000;

/** `tls_enabled()` in Cyrus: both a certificate and a key, and neither "disabled". */
export function tlsConfigured(cfg: Config): boolean {
  const cert = cfg.str("tls_server_cert");
  const key = cfg.str("tls_server_key") ?? cert;
  return !!cert && !!key && cert !== "disabled" && key !== "disabled";
}

function readPem(path: string, option: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`${option}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function versionRange(text: string, log: Log): { minVersion: number; maxVersion: number } {
  const listed = text.split(/[\s,]+/).filter(Boolean);
  const codes = listed.map((name) => {
    const code = VERSION_CODES[name];
    if (code === undefined) throw new Error(`tls_versions: unknown protocol "${name}" (want tls1_0 tls1_1 tls1_2 tls1_3)`);
    return code;
  });
  if (codes.length === 0) throw new Error("tls_versions: no protocol listed");
  const min = Math.min(...codes);
  const max = Math.max(...codes);
  for (let v = min; v <= max; v++) {
    if (!codes.includes(v)) {
      log.warning("tls_versions: gaps cannot be expressed; enabling everything from the lowest to the highest listed");
      break;
    }
  }
  return { minVersion: min, maxVersion: max };
}

const splitPaths = (value: string) => value.split(",").map((p) => p.trim()).filter(Boolean);

/**
 * `tls_server_cert` and `tls_server_key` as certificate/key pairs: one file each, or two
 * comma-separated (RSA and EC, as Cyrus's tls.c accepts). Unset key = the key is inside the
 * certificate file. Each pair is checked now, so a garbage file or a key that does not belong to
 * its certificate is an error naming both options and files, not a failure at the first client.
 */
export function loadCertificatePairs(cfg: Config): { certs: string[]; keys: string[] } {
  const certPaths = splitPaths(cfg.str("tls_server_cert")!);
  const keyOption = cfg.str("tls_server_key");
  const keyPaths = keyOption === undefined ? certPaths : splitPaths(keyOption);
  if (certPaths.length > 2 || keyPaths.length !== certPaths.length) {
    throw new Error(
      `tls_server_cert names ${certPaths.length} file(s) and tls_server_key ${keyPaths.length}: give one certificate and key, or two of each (RSA and EC) in the same order`,
    );
  }
  // node:crypto is loaded only here: importing it costs a process ~0.5 MB of heap and ~1 MB of
  // mapped code (measured in master's spare processes), and a server without TLS never needs it
  const { X509Certificate, createPrivateKey } = require("node:crypto") as typeof import("node:crypto");
  const certs: string[] = [];
  const keys: string[] = [];
  certPaths.forEach((certPath, i) => {
    const keyPath = keyPaths[i]!;
    const certPem = readPem(certPath, "tls_server_cert");
    const keyPem = readPem(keyPath, "tls_server_key");
    let x509: import("node:crypto").X509Certificate;
    try {
      x509 = new X509Certificate(certPem);
    } catch (error) {
      throw new Error(`tls_server_cert: ${certPath} holds no usable certificate (${(error as Error).message})`);
    }
    let key: import("node:crypto").KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (error) {
      throw new Error(`tls_server_key: ${keyPath} holds no usable private key (${(error as Error).message})`);
    }
    if (!x509.checkPrivateKey(key)) {
      throw new Error(`tls_server_key: the key in ${keyPath} does not match the certificate in ${certPath} (tls_server_cert)`);
    }
    certs.push(certPem);
    keys.push(keyPem);
  });
  return { certs, keys };
}

/** Throws Error with the option name for unusable settings; undefined when TLS is not configured. */
export function loadTlsSettings(cfg: Config, log: Log): TlsSettings | undefined {
  if (!tlsConfigured(cfg)) return undefined;
  const { certs, keys } = loadCertificatePairs(cfg);
  const chain = cfg.str("tls_server_ca_file");
  const chainPem = chain ? readPem(chain, "tls_server_ca_file") : undefined;
  const cert = chainPem === undefined ? certs : certs.map((c) => `${c}\n${chainPem}`);

  const clientCas: string[] = [];
  const caFile = cfg.str("tls_client_ca_file");
  if (caFile) clientCas.push(readPem(caFile, "tls_client_ca_file"));
  const caDir = cfg.str("tls_client_ca_dir");
  if (caDir) {
    for (const name of readdirSync(caDir)) {
      if (/\.(pem|crt|\d+)$/.test(name)) clientCas.push(readPem(join(caDir, name), "tls_client_ca_dir"));
    }
  }
  const clientCerts = cfg.enumValue("tls_client_certs") as ClientCertPolicy;
  const requestsClientCert = clientCerts !== "off" && clientCas.length > 0;

  const options: Record<string, unknown> = {
    // one pair, or two (RSA and EC): the TLS library picks the one the client can use
    cert: cert.length === 1 ? cert[0] : cert,
    key: keys.length === 1 ? keys[0] : keys,
    ALPNProtocols: ALPN_POP3,
    ...versionRange(cfg.str("tls_versions") ?? "tls1_2 tls1_3", log),
  };
  const ciphers = cfg.str("tls_ciphers");
  if (ciphers && ciphers !== "DEFAULT") options.ciphers = ciphers;
  if (cfg.bool("tls_prefer_server_ciphers")) options.secureOptions = CIPHER_SERVER_PREFERENCE;
  if (requestsClientCert) {
    options.ca = clientCas;
    options.requestCert = true;
    options.rejectUnauthorized = clientCerts === "require";
  }
  const crl = cfg.str("tls_crl_file");
  if (crl) options.crl = readPem(crl, "tls_crl_file");
  const curve = cfg.str("tls_eccurve");
  if (curve && curve !== "prime256v1") {
    log.warning(`tls_eccurve: "${curve}" ignored — Bun's TLS offers no curve setting; the library's default groups are used`);
  }
  return { options, clientCerts, requestsClientCert };
}

/** The `starttls:` syslog line (tls.c:tls_start_servertls). */
export function describeTls(socket: any, reused = false): string {
  const cipher = socket.getCipher?.() ?? {};
  // the negotiated protocol (SSL_get_version), not the cipher's minimum version
  const protocol = socket.getTLSVersion?.() ?? cipher.version ?? "TLS";
  const bits = cipher.bits ?? cipherBits(cipher.name ?? "");
  const cn = clientCertificateName(socket);
  const alpn = socket.alpnProtocol ? `; application protocol = ${socket.alpnProtocol}` : "";
  return `starttls: ${protocol} with cipher ${cipher.name ?? "unknown"} (${bits}/${bits} bits ${reused ? "reused" : "new"}) ${
    cn ? `authenticated as ${cn}` : "no authentication"
  }${alpn}`;
}

function cipherBits(name: string): number {
  if (/256|CHACHA20/.test(name)) return 256;
  if (/128/.test(name)) return 128;
  return 0;
}

/** CN of a verified client certificate, or undefined (SASL EXTERNAL's identity, RFC 4422 appendix A). */
export function clientCertificateName(socket: any): string | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate?.();
  const cn = cert?.subject?.CN;
  return typeof cn === "string" && cn.length > 0 ? cn : undefined;
}

/**
 * Whether STLS is offered on plain connections. Cyrus up to 3.8.5, 3.10.1 and 3.12.0 offers it
 * whenever a certificate loads (pop3d.c:capa_response, tls_enabled()); later releases also want
 * `allowstarttls` (tls_starttls_enabled()). We follow the Cyrus we replace: turning STLS off
 * behind an operator's back would make clients send passwords in clear text.
 */
export function starttlsOffered(cfg: Config, tls: TlsSettings | undefined, needsAllowStarttls: boolean): boolean {
  if (!tls) return false;
  return needsAllowStarttls ? cfg.bool("allowstarttls") : true;
}

/** The start-up warning when a certificate is configured and STLS is still not offered. */
export function starttlsWarning(cfg: Config, offered: boolean): string | undefined {
  if (offered || !tlsConfigured(cfg)) return undefined;
  return "tls_server_cert is set but STLS is not offered (allowstarttls: 0): clients on the plain port cannot upgrade to TLS and may send passwords in clear text; set allowstarttls: 1";
}
