/**
 * Comparisons whose running time does not depend on where two secrets first differ.
 * Lengths are not hidden: callers compare fixed-length digests, or digests of variable-length secrets.
 */
const utf8 = new TextEncoder();

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function constantTimeEqualStrings(a: string, b: string): boolean {
  return constantTimeEqual(utf8.encode(a), utf8.encode(b));
}
