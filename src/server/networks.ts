/** CIDR lists ("127.0.0.0/8 ::1 10.0.0.0/8"), for the peers standalone mode takes PROXY headers from. */

type Network = { bits: bigint; prefix: number; width: 32 | 128 };

function parseIp(text: string): { value: bigint; width: 32 | 128 } | undefined {
  const address = text.startsWith("::ffff:") && text.includes(".") ? text.slice(7) : text;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    const octets = address.split(".").map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    return { value: octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n), width: 32 };
  }
  if (!address.includes(":") || address.split("::").length > 2) return undefined;
  const [head = "", tail] = address.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  if (tail === undefined ? headGroups.length !== 8 : missing < 0) return undefined;
  const groups = [...headGroups, ...Array(tail === undefined ? 0 : missing).fill("0"), ...tailGroups];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return { value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), width: 128 };
}

export function parseNetworks(list: string): Network[] {
  return list
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((item) => {
      const [ip = "", prefixText] = item.split("/");
      const parsed = parseIp(ip);
      if (!parsed) throw new Error(`invalid network "${item}"`);
      const prefix = prefixText === undefined ? parsed.width : Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > parsed.width) throw new Error(`invalid prefix in "${item}"`);
      return { bits: parsed.value >> BigInt(parsed.width - prefix), prefix, width: parsed.width };
    });
}

export function inNetworks(address: string, networks: readonly Network[]): boolean {
  const parsed = parseIp(address);
  if (!parsed) return false;
  return networks.some((n) => n.width === parsed.width && parsed.value >> BigInt(n.width - n.prefix) === n.bits);
}
