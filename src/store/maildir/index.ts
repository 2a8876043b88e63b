export { MaildirStore, type MaildirStoreOptions } from "./maildir-store.ts";
