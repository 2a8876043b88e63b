import { describe, expect, test } from "bun:test";
import { MaildirMessage } from "../../../src/store/maildir/maildir-message.ts";
import { draftOf, parseUidList, serializeUidList, type UidListDraft } from "../../../src/store/maildir/uid-list.ts";
import { parseDovecotUidList } from "../../../src/store/maildir/dovecot-uidlist.ts";

const summary = (list: Awaited<ReturnType<typeof parseUidList>>) =>
  list && {
    uidValidity: list.uidValidity,
    nextUid: list.nextUid,
    ctimes: list.ctimes,
    messages: draftOf(list).messages.map((m) => [m.uid, m.size, m.baseName, m.file.subdir, m.file.name]),
  };

describe("uid list format", () => {
  test("round-trips", async () => {
    const list: UidListDraft = {
      uidValidity: 1_700_000_000,
      nextUid: 8,
      ctimes: { new: 1_700_000_000_123_456_789n, cur: 1_700_000_001_000_000_000n },
      messages: [
        MaildirMessage.at(3, 120, { subdir: "cur", name: "1.M1P1.h,S=100:2,S" }),
        MaildirMessage.at(7, 0, { subdir: "new", name: "odd name with spaces" }),
      ],
    };
    const text = (await serializeUidList(list)).toString();
    expect(text).toBe(
      "pop3d-uidlist 1 1700000000 8 1700000000123456789 1700000001000000000\n" +
        "3 120 cur/1.M1P1.h,S=100:2,S\n" +
        "7 0 new/odd name with spaces\n",
    );
    expect(summary(await parseUidList(text))).toEqual({
      uidValidity: 1_700_000_000,
      nextUid: 8,
      ctimes: list.ctimes,
      messages: [
        [3, 120, "1.M1P1.h,S=100", "cur", "1.M1P1.h,S=100:2,S"],
        [7, 0, "odd name with spaces", "new", "odd name with spaces"],
      ],
    });
  });

  test("lines read from a list are written back unchanged, around changed and new ones", async () => {
    const read = draftOf((await parseUidList("pop3d-uidlist 1 9 5 7 8\n1 10 cur/a:2,S\n2 20 new/b\n3 30 cur/c:2,\n4 40 cur/d:2,"))!);
    const [a, b, c, d] = read.messages as [MaildirMessage, MaildirMessage, MaildirMessage, MaildirMessage];
    const moved = b.movedTo({ subdir: "cur", name: "b:2,S" });
    const added = MaildirMessage.at(5, 50, { subdir: "new", name: "e" });
    const text = (await serializeUidList({ ...read, nextUid: 6, messages: [a, moved, c, d, added] })).toString();
    expect(text).toBe("pop3d-uidlist 1 9 6 7 8\n1 10 cur/a:2,S\n2 20 cur/b:2,S\n3 30 cur/c:2,\n4 40 cur/d:2,\n5 50 new/e\n");
  });

  test("an unusable header means no list", async () => {
    expect(await parseUidList("")).toBeUndefined();
    expect(await parseUidList("pop3d-uidlist 2 1 2 0 0\n")).toBeUndefined();
    expect(await parseUidList("pop3d-uidlist 1 0 2 0 0\n")).toBeUndefined();
    expect(await parseUidList("pop3d-uidlist 1 5 x 0 0\n")).toBeUndefined();
    expect(await parseUidList("pop3d-uidlist 1 5 2 0\n")).toBeUndefined();
  });

  test("bad lines are dropped and the directory ctimes are no longer trusted", async () => {
    const list = await parseUidList(
      "pop3d-uidlist 1 9 10 5 6\n" +
        "1 10 cur/a\n" +
        "x 10 cur/b\n" + // bad uid
        "2 10 tmp/c\n" + // not new/ or cur/
        "12 10 cur/d\n" + // not below nextUid
        "3 -1 cur/e\n" + // bad size
        "4 10 cur/\n" + // no name
        "5 10 new/f",
    );
    expect(summary(list)).toEqual({
      uidValidity: 9,
      nextUid: 10,
      ctimes: { new: 0n, cur: 0n },
      messages: [
        [1, 10, "a", "cur", "a"],
        [5, 10, "f", "new", "f"],
      ],
    });
  });

  test("out-of-order lines are sorted and a repeated uid kept once", async () => {
    const list = await parseUidList("pop3d-uidlist 1 9 10 5 6\n4 1 cur/b\n2 1 cur/a\n4 1 cur/c\n");
    expect(draftOf(list!).messages.map((m) => [m.uid, m.file.name])).toEqual([[2, "a"], [4, "b"]]);
    expect(list?.ctimes).toEqual({ new: 0n, cur: 0n });
  });

  test("an intact list keeps its ctimes", async () => {
    expect((await parseUidList("pop3d-uidlist 1 9 10 5 6\n1 1 cur/a\n"))?.ctimes).toEqual({ new: 5n, cur: 6n });
  });
});

describe("dovecot-uidlist import", () => {
  test("version 3", async () => {
    const parsed = await parseDovecotUidList(
      "3 V1234567890 N45 G0123456789abcdef\n" +
        "40 W1234 S1200 :1700000000.M1P1.host,S=1200,W=1234\n" +
        "42 :1700000001.M2P1.host:2,S\n" +
        "50 :too.big.uid\n" +
        "garbage\n",
    );
    expect(parsed?.uidValidity).toBe(1_234_567_890);
    expect(parsed?.nextUid).toBe(45);
    expect([...(parsed?.uidsByBaseName ?? [])]).toEqual([
      ["1700000000.M1P1.host,S=1200,W=1234", 40],
      ["1700000001.M2P1.host", 42],
    ]);
  });

  test("version 1", async () => {
    const parsed = await parseDovecotUidList("1 1111 7\n3 1700000000.M1P1.host\n");
    expect(parsed?.uidValidity).toBe(1111);
    expect([...(parsed?.uidsByBaseName ?? [])]).toEqual([["1700000000.M1P1.host", 3]]);
  });

  test("unknown versions are ignored", async () => {
    expect(await parseDovecotUidList("2 V1 N2\n")).toBeUndefined();
  });
});
