/**
 * @noble/hashes, evaluated on first use rather than at start-up: loading it costs 3–4 ms, which
 * every inetd-spawned process would otherwise pay before its greeting (bench/RESULTS.md).
 * Only the types are imported statically.
 */
import type * as LegacyModule from "@noble/hashes/legacy.js";
import type * as Sha2Module from "@noble/hashes/sha2.js";
import type * as HmacModule from "@noble/hashes/hmac.js";
import type * as Pbkdf2Module from "@noble/hashes/pbkdf2.js";
import type * as UtilsModule from "@noble/hashes/utils.js";

let legacy: typeof LegacyModule | undefined;
let sha2: typeof Sha2Module | undefined;
let hmacModule: typeof HmacModule | undefined;
let pbkdf2: typeof Pbkdf2Module | undefined;
let utils: typeof UtilsModule | undefined;

export const noble = {
  get legacy(): typeof LegacyModule {
    return (legacy ??= require("@noble/hashes/legacy.js"));
  },
  get sha2(): typeof Sha2Module {
    return (sha2 ??= require("@noble/hashes/sha2.js"));
  },
  get hmac(): typeof HmacModule {
    return (hmacModule ??= require("@noble/hashes/hmac.js"));
  },
  get pbkdf2(): typeof Pbkdf2Module {
    return (pbkdf2 ??= require("@noble/hashes/pbkdf2.js"));
  },
  get utils(): typeof UtilsModule {
    return (utils ??= require("@noble/hashes/utils.js"));
  },
};
