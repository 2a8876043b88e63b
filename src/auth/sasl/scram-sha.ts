/**
 * The SCRAM mechanisms, one per hash libsasl offers, each with its channel-binding -PLUS twin
 * (RFC 5802 section 4: SCRAM-SHA-1, RFC 7677: SCRAM-SHA-256; SHA-224/384/512 as Cyrus lists them).
 */
import { SCRAM_HASHES, type ScramHashName } from "../passdb/scram-keys.ts";
import type { SaslMechanism } from "./mechanism.ts";
import { ScramExchange, type ScramVariant } from "./scram.ts";

function scramMechanism(hashName: ScramHashName, plus: boolean): SaslMechanism {
  const variant: ScramVariant = {
    name: `SCRAM-${hashName}${plus ? "-PLUS" : ""}`,
    hash: SCRAM_HASHES[hashName],
    plus,
  };
  return { name: variant.name, plaintext: false, channelBinding: plus, start: (ctx) => new ScramExchange(ctx, variant) };
}

export const SCRAM_SHA_1 = scramMechanism("SHA-1", false);
export const SCRAM_SHA_1_PLUS = scramMechanism("SHA-1", true);
export const SCRAM_SHA_224 = scramMechanism("SHA-224", false);
export const SCRAM_SHA_224_PLUS = scramMechanism("SHA-224", true);
export const SCRAM_SHA_256 = scramMechanism("SHA-256", false);
export const SCRAM_SHA_256_PLUS = scramMechanism("SHA-256", true);
export const SCRAM_SHA_384 = scramMechanism("SHA-384", false);
export const SCRAM_SHA_384_PLUS = scramMechanism("SHA-384", true);
export const SCRAM_SHA_512 = scramMechanism("SHA-512", false);
export const SCRAM_SHA_512_PLUS = scramMechanism("SHA-512", true);
