import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../../../src/config/index.ts";
import { cyrusStoreOptions } from "../../../../src/store/cyrus/cyrus-settings.ts";

const dir = mkdtempSync(join(tmpdir(), "cyrus-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(lines: string) {
  const path = join(dir, `imapd-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(path, `configdirectory: ${dir}/conf\n${lines}`);
  return cyrusStoreOptions(loadConfig(path, "pop3", {}));
}

describe("Cyrus store settings from imapd.conf", () => {
  test("Cyrus's defaults", () => {
    const o = options("partition-default: /var/spool/cyrus/mail\n");
    expect(o.mailboxesDb).toBe(`${dir}/conf/mailboxes.db`);
    expect(o.lockRoot).toBe(`${dir}/conf/lock`);
    expect(o.quotaLegacyDir).toBe(`${dir}/conf`);
    expect(o.hash).toEqual({ hashImapSpool: false, fullDirHash: false });
    expect(o.expungeMode).toBe("delayed");
    expect(o.globalLock).toBe(true);
    expect(o.syncLogChannels).toEqual([]);
    expect(o.partitions.lookup("partition-default")).toBe("/var/spool/cyrus/mail");
  });

  test("Debian's settings and the replication log", () => {
    const o = options(
      "mboxname_lockpath: /run/cyrus/lock\nhashimapspool: true\nexpunge_mode: immediate\nsync_log: 1\nsync_log_channels: \"\" squatter\n" +
        "metapartition_files: header index\nmetapartition-default: {configdirectory}/meta\n",
    );
    expect(o.lockRoot).toBe("/run/cyrus/lock");
    expect(o.hash.hashImapSpool).toBe(true);
    expect(o.expungeMode).toBe("immediate");
    expect(o.syncLogChannels).toEqual(["", "squatter"]);
    expect([...o.partitions.metaFiles]).toEqual(["header", "index"]);
    expect(o.partitions.lookup("metapartition-default")).toBe(`${dir}/conf/meta`);
  });

  test("databases we cannot read are a configuration error", () => {
    expect(() => options("mboxlist_db: skiplist\n")).toThrow(ConfigError);
    expect(() => options("expunge_mode: sometimes\n")).toThrow(ConfigError);
    expect(options("quota_db: twoskip\n").quotaLegacyDir).toBeUndefined();
  });
});
