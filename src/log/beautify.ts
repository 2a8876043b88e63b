/** Cyrus's beautify_string: control characters shown as ^X so a log line stays one line. */
export function beautify(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === "\x7f" ? "^?" : "^" + String.fromCharCode(c.charCodeAt(0) + 64)));
}
