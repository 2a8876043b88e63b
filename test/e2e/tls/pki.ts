/**
 * A throw-away PKI for the TLS tests, made with the openssl command line: a test CA, two server
 * certificates for pop.test / 127.0.0.1 (the second one to prove a SIGHUP reload), a client
 * certificate signed by the CA and one that is not.
 */
import { chmodSync, chownSync, copyFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../support/harness.ts";

export interface Pki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Another key and certificate for the same names (a renewed certificate). */
  renewedCert: string;
  renewedKey: string;
  /** CN "alice", signed by the test CA. */
  clientCert: string;
  clientKey: string;
  /** CN "mallory", self-signed: no CA the server knows vouches for it. */
  strangerCert: string;
  strangerKey: string;
  /** A server certificate issued by an intermediate CA, and the file with it followed by the intermediate. */
  chainedKey: string;
  fullChain: string;
}

const DAYS = "30";

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

/** P-256 keys: quick to make and accepted by every client and TLS version under test. */
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function leaf(dir: string, name: string, subject: string, extensions: string): void {
  openssl(["req", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", DAYS,
    "-out", `${name}.pem`, "-extfile", `${name}.ext`], dir);
}

/**
 * Makes the PKI in a temp dir. When the tests run as root the server drops to `owner` (the
 * fixture's pop3_run_as) and must still read the files at a SIGHUP reload, so they are handed over.
 */
export function makePki(owner = process.getuid?.() === 0 ? "nobody" : undefined): Pki {
  const dir = tempDir("pki");
  openssl(["req", "-x509", ...EC_KEY, "-keyout", "ca.key", "-out", "ca.pem", "-days", DAYS, "-subj", "/CN=pop3d Test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  const serverExt = "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:pop.test,DNS:localhost,IP:127.0.0.1\n";
  leaf(dir, "server", "/CN=pop.test", serverExt);
  leaf(dir, "renewed", "/CN=pop.test", serverExt);
  leaf(dir, "client", "/CN=alice", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  openssl(["req", "-x509", ...EC_KEY, "-keyout", "stranger.key", "-out", "stranger.pem", "-days", DAYS, "-subj", "/CN=mallory"], dir);
  leaf(dir, "intermediate", "/CN=pop3d Test Intermediate", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
  openssl(["req", ...EC_KEY, "-keyout", "chained.key", "-out", "chained.csr", "-subj", "/CN=pop.test"], dir);
  writeFileSync(join(dir, "chained.ext"), serverExt);
  openssl(["x509", "-req", "-in", "chained.csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key", "-CAcreateserial", "-days", DAYS,
    "-out", "chained.pem", "-extfile", "chained.ext"], dir);
  writeFileSync(join(dir, "fullchain.pem"), readFileSync(join(dir, "chained.pem"), "utf8") + readFileSync(join(dir, "intermediate.pem"), "utf8"));
  for (const f of readdirSync(dir)) if (f.endsWith(".key")) chmodSync(join(dir, f), 0o600);
  if (owner) handTo(dir, owner);
  return {
    dir,
    caCert: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    renewedCert: join(dir, "renewed.pem"),
    renewedKey: join(dir, "renewed.key"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client.key"),
    strangerCert: join(dir, "stranger.pem"),
    strangerKey: join(dir, "stranger.key"),
    chainedKey: join(dir, "chained.key"),
    fullChain: join(dir, "fullchain.pem"),
  };
}

function handTo(dir: string, user: string): void {
  const entry = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":")).find((f) => f[0] === user);
  if (!entry) throw new Error(`user "${user}" is not in /etc/passwd`);
  const [uid, gid] = [Number(entry[2]), Number(entry[3])];
  chownSync(dir, uid, gid);
  for (const f of readdirSync(dir)) chownSync(join(dir, f), uid, gid);
}

/** Replaces the served certificate and key files in place (what an operator's renewal does). */
export function installRenewed(pki: Pki): void {
  const { uid, gid } = statSync(pki.serverCert);
  copyFileSync(pki.renewedCert, pki.serverCert);
  copyFileSync(pki.renewedKey, pki.serverKey);
  chownSync(pki.serverCert, uid, gid);
  chownSync(pki.serverKey, uid, gid);
}

/** SHA-256 fingerprint of a PEM certificate as lowercase hex without colons. */
export function fingerprint(pemPath: string): string {
  const r = Bun.spawnSync(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", pemPath], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl x509 -fingerprint ${pemPath}: ${r.stderr.toString()}`);
  const m = /=([0-9A-F:]+)/.exec(r.stdout.toString());
  if (!m) throw new Error(`no fingerprint in ${r.stdout.toString()}`);
  return m[1]!.replace(/:/g, "").toLowerCase();
}

/** The imapd.conf lines that make the server use the PKI. */
export function tlsConfig(pki: Pki, extra: Record<string, string> = {}): Record<string, string> {
  return { tls_server_cert: pki.serverCert, tls_server_key: pki.serverKey, ...extra };
}
