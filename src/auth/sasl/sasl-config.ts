/**
 * The SASL settings a session needs from imapd.conf, read once at startup (pop3d.c:popd_proxy_policy, imapd.conf(5) sasl_pwcheck_method).
 */
import { ConfigError, type Config } from "../../config/config.ts";
import { loginPolicyFromConfig, type LoginPolicy } from "../policy.ts";
import { DEFAULT_SCRAM_ITERATIONS, MAX_SCRAM_ITERATIONS } from "../passdb/scram-keys.ts";

export interface SaslSettings {
  readonly policy: LoginPolicy;
  /** sasl_minimum_layer. */
  readonly minimumLayer: number;
  /** sasl_scram_iteration_counter (libsasl's scram_iteration_counter option). */
  readonly scramIterations: number;
}

/** RFC 7677 section 4: fewer than 4096 iterations are too weak for keys we derive ourselves. */
const MIN_DERIVED_ITERATIONS = 4096;

function scramIterations(cfg: Config): number {
  const raw = cfg.raw("sasl_scram_iteration_counter");
  if (raw === undefined) return DEFAULT_SCRAM_ITERATIONS;
  const text = raw.trim();
  const n = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= MIN_DERIVED_ITERATIONS && n <= MAX_SCRAM_ITERATIONS)) {
    throw new ConfigError(
      `${cfg.file}: sasl_scram_iteration_counter: "${raw}" is not a number from ${MIN_DERIVED_ITERATIONS} to ${MAX_SCRAM_ITERATIONS}`,
      cfg.file,
      undefined,
      "sasl_scram_iteration_counter",
    );
  }
  return n;
}

export function saslSettingsFromConfig(cfg: Config): SaslSettings {
  return {
    policy: loginPolicyFromConfig(cfg),
    minimumLayer: Math.max(0, cfg.int("sasl_minimum_layer")),
    scramIterations: scramIterations(cfg),
  };
}

/** What an imapd.conf without any of these options gives (tests and defaults). */
export function defaultSaslSettings(): SaslSettings {
  return {
    policy: { virtdomains: "off", loginRealms: [], admins: new Set(), proxyServers: new Set() },
    minimumLayer: 0,
    scramIterations: DEFAULT_SCRAM_ITERATIONS,
  };
}
