/**
 * The `name=value, name="quoted value"` lists of DIGEST-MD5 (RFC 2831 section 7.1, the HTTP #rule), read and
 * written the way libsasl's get_pair and add_to_challenge do. Strings are byte strings (one char per
 * byte, "latin1"), because user names and realms may be ISO 8859-1 and are hashed byte for byte.
 */

export type Directives = Map<string, string[]>;

const isLws = (c: string | undefined) => c === " " || c === "\t" || c === "\r" || c === "\n";

/** Every directive under its lower-cased name, values in order of appearance; or why it failed to parse. */
export function parseDirectives(text: string): Directives | { error: string } {
  const out: Directives = new Map();
  let i = 0;
  const skipLws = () => {
    while (isLws(text[i])) i++;
  };
  for (;;) {
    while (isLws(text[i]) || text[i] === ",") i++;
    if (i >= text.length) return out;
    const nameStart = i;
    while (i < text.length && text[i] !== "=" && !isLws(text[i]) && text[i] !== ",") i++;
    const name = text.slice(nameStart, i).toLowerCase();
    skipLws();
    if (name === "" || text[i] !== "=") return { error: `directive "${name}" has no value` };
    i++;
    skipLws();
    let value = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return { error: `unterminated quoted value of "${name}"` };
        const c = text[i++]!;
        if (c === '"') break;
        if (c === "\\") {
          if (i >= text.length) return { error: `unterminated quoted value of "${name}"` };
          value += text[i++];
        } else {
          value += c;
        }
      }
    } else {
      const start = i;
      while (i < text.length && text[i] !== "," && !isLws(text[i])) i++;
      value = text.slice(start, i);
    }
    skipLws();
    if (i < text.length && text[i] !== ",") return { error: `junk after the value of "${name}"` };
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
}

/** A quoted-string with `"` and `\` escaped (RFC 2616 section 2.2). */
export function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
