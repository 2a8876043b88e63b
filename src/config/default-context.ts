/** What computed option defaults may look at (options.ts and the rules it uses, e.g. store-default.ts). */
export interface DefaultContext {
  readonly configDirectory: string;
  /** Whether a table option is set in the file. */
  isSet(name: string): boolean;
  /** Every key of the overflow table (partition-*, sasl_*, ...). */
  overflowKeys(): Iterable<string>;
  raw(key: string): string | undefined;
}
