/** A password as a password database stores it: `{SCHEME}secret`, parsed (schemes.ts). */
export interface StoredSecret {
  /** Upper-case scheme name without braces, e.g. "SSHA256". */
  readonly scheme: string;
  readonly secret: string;
}
