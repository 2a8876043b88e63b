export { MboxStore, MBOX_UIDL_SOURCES, type MboxStoreOptions, type MboxUidlSource } from "./mbox-store.ts";
export { FROM_QUOTINGS, type FromQuoting } from "./mbox-format.ts";
