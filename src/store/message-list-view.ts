/**
 * `Maildrop.messages` for stores that keep their snapshot compact (typed arrays, not one object
 * per message): an array-like view whose element i is made when it is read. Indexing, `length`,
 * iteration and the Array methods work as on a real array; the view is read-only.
 */
import type { MessageInfo } from "./maildrop.ts";

function arrayIndex(key: string): number | undefined {
  const first = key.charCodeAt(0);
  if (first < 48 || first > 57) return undefined;
  const index = Number(key);
  return Number.isSafeInteger(index) && String(index) === key ? index : undefined;
}

export function messageListView(count: number, messageAt: (index: number) => MessageInfo): readonly MessageInfo[] {
  return new Proxy<MessageInfo[]>([], {
    get(target, key, receiver) {
      if (typeof key === "string") {
        if (key === "length") return count;
        const index = arrayIndex(key);
        if (index !== undefined) return index < count ? messageAt(index) : undefined;
      }
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") {
        const index = arrayIndex(key);
        if (index !== undefined) return index < count;
      }
      return Reflect.has(target, key);
    },
    set() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  });
}
