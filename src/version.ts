/** Our name and version as shown in the greeting and CAPA IMPLEMENTATION (same shape as Cyrus's). */
export const IMPLEMENTATION_NAME = "pop3d";
export const VERSION = "0.1.0";
export const IMPLEMENTATION = `${IMPLEMENTATION_NAME} ${VERSION}`;
