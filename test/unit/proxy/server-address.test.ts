import { describe, expect, test } from "bun:test";
import { parseServerAddress } from "../../../src/proxy/server-address.ts";
import { plainResponse } from "../../../src/proxy/pop3-login.ts";

describe("backend addresses as mailboxes.db names them", () => {
  test("host alone is POP3's port; host:port; service names; /tls and /noauth options", () => {
    expect(parseServerAddress("backend1.example.org")).toEqual({ host: "backend1.example.org", port: 110, implicitTls: false, noAuth: false, shortHost: "backend1" });
    expect(parseServerAddress("127.0.0.1:1110")).toMatchObject({ host: "127.0.0.1", port: 1110, shortHost: "127" });
    expect(parseServerAddress("mail:pop3s/tls")).toMatchObject({ host: "mail", port: 995, implicitTls: true, shortHost: "mail" });
    expect(parseServerAddress("mail:110/noauth/tls")).toMatchObject({ port: 110, implicitTls: true, noAuth: true });
    expect(parseServerAddress("[::1]:1110")).toMatchObject({ host: "::1", port: 1110 });
  });

  test("bad names are reported, not guessed", () => {
    expect(parseServerAddress("")).toBeTypeOf("string");
    expect(parseServerAddress("host:imap")).toBeTypeOf("string");
    expect(parseServerAddress("host:70000")).toBeTypeOf("string");
    expect(parseServerAddress("[::1")).toBeTypeOf("string");
  });
});

test("SASL PLAIN carries authzid, authcid and password separated by NUL (RFC 4616)", () => {
  expect(Buffer.from(plainResponse("alice+work", "mailproxy", "pw"), "base64").toString()).toBe("alice+work\0mailproxy\0pw");
});
