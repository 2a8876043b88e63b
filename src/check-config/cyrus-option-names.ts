/** The Cyrus option names live with the rest of the config layer (start-up warns with them too). */
export { CYRUS_OPTION_NAMES, CYRUS_OPTION_PATTERNS } from "../config/cyrus-option-names.ts";
