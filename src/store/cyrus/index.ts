export { CyrusStore } from "./cyrus-store.ts";
export { cyrusStoreOptions, type CyrusStoreOptions, type ExpungeMode } from "./cyrus-settings.ts";
