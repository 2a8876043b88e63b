/**
 * The SCRAM client messages (RFC 5802 section 7): client-first with its GS2 header, and client-final.
 * Parse failures return the reason, which the mechanism reports as a protocol error.
 */

export interface ClientFirst {
  /** n: no channel binding; y: client could bind but thinks we cannot; p: binds with cbName. */
  readonly cbFlag: "n" | "y" | "p";
  readonly cbName?: string;
  /** Empty when absent. */
  readonly authzid: string;
  readonly username: string;
  readonly clientNonce: string;
  /** `gs2-cbind-flag "," [authzid] ","`, which the client repeats inside c= of its final message. */
  readonly gs2Header: string;
  /** client-first-message-bare, the first part of AuthMessage. */
  readonly bare: string;
}

export interface ClientFinal {
  /** The decoded c= attribute: the GS2 header followed by any channel-binding data. */
  readonly channelBinding: Uint8Array;
  readonly nonce: string;
  readonly proof: Uint8Array;
  /** client-final-message-without-proof, the last part of AuthMessage. */
  readonly withoutProof: string;
}

type Failed = { error: string };

/** saslname: `,` travels as `=2C` and `=` as `=3D`; any other `=` sequence is invalid. */
export function decodeSaslname(text: string): string | undefined {
  if (/=(?!2C|3D)/.test(text)) return undefined;
  return text.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

export function encodeSaslname(text: string): string {
  return text.replace(/=/g, "=3D").replace(/,/g, "=2C");
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string): Uint8Array | undefined {
  return STRICT_BASE64.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined;
}

export function parseClientFirst(text: string): ClientFirst | Failed {
  if (text.includes("\0")) return { error: "NUL in client-first-message" };
  const first = text.indexOf(",");
  if (first < 0) return { error: "no GS2 header" };
  const flag = text.slice(0, first);
  let cbFlag: ClientFirst["cbFlag"];
  let cbName: string | undefined;
  if (flag === "n" || flag === "y") cbFlag = flag;
  else if (flag.startsWith("p=") && flag.length > 2) {
    cbFlag = "p";
    cbName = flag.slice(2);
  } else return { error: `bad channel-binding flag "${flag}"` };

  const second = text.indexOf(",", first + 1);
  if (second < 0) return { error: "GS2 header not terminated" };
  const authzField = text.slice(first + 1, second);
  let authzid = "";
  if (authzField !== "") {
    if (!authzField.startsWith("a=")) return { error: "bad authzid field" };
    const decoded = decodeSaslname(authzField.slice(2));
    if (decoded === undefined) return { error: "invalid authorization identity encoding" };
    authzid = decoded;
  }
  const gs2Header = text.slice(0, second + 1);
  const bare = text.slice(second + 1);
  const attrs = bare.split(",");
  if (attrs[0]!.startsWith("m=")) return { error: "unsupported mandatory extension" };
  if (!attrs[0]!.startsWith("n=")) return { error: "username (n=) expected" };
  const username = decodeSaslname(attrs[0]!.slice(2));
  if (username === undefined) return { error: "invalid username encoding" };
  if (attrs.length < 2 || !attrs[1]!.startsWith("r=") || attrs[1]!.length === 2) return { error: "nonce expected after the username" };
  const result: ClientFirst = { cbFlag, authzid, username, clientNonce: attrs[1]!.slice(2), gs2Header, bare };
  return cbName === undefined ? result : { ...result, cbName };
}

export function parseClientFinal(text: string): ClientFinal | Failed {
  if (text.includes("\0")) return { error: "NUL in client-final-message" };
  const attrs = text.split(",");
  if (!attrs[0]!.startsWith("c=")) return { error: "channel binding (c=) expected" };
  const channelBinding = decodeBase64(attrs[0]!.slice(2));
  if (!channelBinding) return { error: "invalid base64 in c=" };
  if (attrs.length < 3 || !attrs[1]!.startsWith("r=")) return { error: "nonce expected" };
  const proofField = attrs.at(-1)!;
  if (!proofField.startsWith("p=")) return { error: "client proof must come last" };
  const proof = decodeBase64(proofField.slice(2));
  if (!proof) return { error: "invalid base64 in the client proof" };
  const withoutProof = text.slice(0, text.length - proofField.length - 1);
  return { channelBinding, nonce: attrs[1]!.slice(2), proof, withoutProof };
}
