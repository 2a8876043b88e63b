/**
 * A copy of a small spool written by Cyrus 3.6.1 (fixtures/cyrus-3.6): user.carol with four
 * messages (uid 2 \Seen and $Label1, uid 3 \Deleted \Flagged, uid 4 \Answered), a 5000 KB quota,
 * and a mailboxes.db that also lists alice and bob.smith (without their spools).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CyrusStoreOptions } from "../../../../src/store/cyrus/cyrus-settings.ts";
import { buildTwoskip } from "./twoskip-writer.ts";

export const FIXTURE = join(import.meta.dir, "fixtures/cyrus-3.6");
export const CAROL_UNIQUEID = "4dt9l97fkd57frqfdve9esg5";
export const CAROL_UIDVALIDITY = 1795926633;
/** Sizes of carol's messages 1..4 as the index records them (equal to the files). */
export const CAROL_SIZES = [766, 668, 602, 557];

export interface SpoolCopy {
  dir: string;
  carolDir: string;
  options(overrides?: Partial<CyrusStoreOptions>): CyrusStoreOptions;
  /** Replaces mailboxes.db by one holding only `entries` (key → dlist value). */
  mailboxes(entries: Record<string, string>): void;
  index(): Buffer;
  remove(): void;
}

export function copySpool(): SpoolCopy {
  const dir = mkdtempSync(join(tmpdir(), "cyrus-store-"));
  cpSync(FIXTURE, dir, { recursive: true });
  const carolDir = join(dir, "spool/uuid/4/d", CAROL_UNIQUEID);
  return {
    dir,
    carolDir,
    options: (overrides = {}) => ({
      configDirectory: join(dir, "conf"),
      mailboxesDb: join(dir, "conf/mailboxes.db"),
      lockRoot: join(dir, "conf/lock"),
      hash: { hashImapSpool: false, fullDirHash: false },
      naming: { unixHierarchySep: true, virtDomains: false, defaultDomain: undefined },
      partitions: { lookup: (key) => (key === "partition-default" ? join(dir, "spool") : undefined), metaFiles: new Set() },
      quotaLegacyDir: join(dir, "conf"),
      expungeMode: "delayed",
      globalLock: true,
      popUseAcl: false,
      popUseImapFlags: false,
      popMinPollSeconds: 0,
      popPollPadding: 1,
      syncLogChannels: [],
      conversations: false,
      statusCache: false,
      serverName: "pop.test",
      ...overrides,
    }),
    mailboxes(entries) {
      writeFileSync(join(dir, "conf/mailboxes.db"), buildTwoskip({ entries: Object.entries(entries) }));
    },
    index: () => readFileSync(join(carolDir, "cyrus.index")),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const CAROL_ENTRY = `%(T e I ${CAROL_UNIQUEID} P default V ${CAROL_UIDVALIDITY} C 1 F 1 M 1795926632 A %(carol lrswipkxtecdan))`;
