import { describe, expect, test } from "bun:test";
import { DlistKvList, DlistSyntaxError, parseDlist, parseDlistKv } from "../../../../src/store/cyrus/dlist.ts";

describe("dlist", () => {
  test("a mailboxes.db value", () => {
    const kv = parseDlistKv(Buffer.from("%(T e I abc P default A %(alice lrswipkxtecdan anyone lr) H ())"));
    expect(kv.string("T")).toBe("e");
    expect(kv.string("P")).toBe("default");
    expect((kv.get("A") as DlistKvList).entries).toEqual([["alice", "lrswipkxtecdan"], ["anyone", "lr"]]);
    expect(kv.get("H")).toEqual([]);
  });

  test("quoted strings, literals, NIL and atoms ending in parentheses", () => {
    const value = parseDlist(Buffer.from('%(Q "a \\"b\\" c" L {5+}\r\nx y z N NIL U (one two))'));
    const kv = value as DlistKvList;
    expect(kv.string("Q")).toBe('a "b" c');
    expect(kv.string("L")).toBe("x y z");
    expect(kv.get("N")).toBeNull();
    expect(kv.get("U")).toEqual(["one", "two"]);
  });

  test("malformed input is an error, not a guess", () => {
    for (const bad of ["%(A", "%(A B", "%[x]", "(a)b", "%(A {9}\r\nshort)"]) {
      expect(() => parseDlist(Buffer.from(bad))).toThrow(DlistSyntaxError);
    }
  });
});
