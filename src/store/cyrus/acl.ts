/**
 * A user's rights on a mailbox from its ACL (lib/acl_afs.c: cyrus_acl_myrights), for popuseacl
 * (pop3d.c:openinbox). The ACL is `id TAB rights TAB ...`; an id starting with '-' takes rights away. With
 * auth_mech unix an identity matches itself, "anyone", and "anonymous" for the anonymous user.
 * Group identities (group:...) need the system group database and are not matched here.
 */

/** Legacy letters stand for pairs of modern rights (cyrus_acl_strtomask). */
const LEGACY_RIGHTS: Readonly<Record<string, string>> = { d: "te", c: "kx" };

function expand(rights: string): Set<string> {
  const out = new Set<string>();
  for (const r of rights) {
    out.add(r);
    for (const implied of LEGACY_RIGHTS[r] ?? "") out.add(implied);
  }
  return out;
}

function matches(identity: string, userid: string): boolean {
  if (identity === "anyone") return true;
  if (identity === "anonymous") return userid === "anonymous";
  return identity === userid;
}

/** The effective right letters of `userid` under `acl`. */
export function myRights(acl: string, userid: string): Set<string> {
  const granted = new Set<string>();
  const denied = new Set<string>();
  const fields = acl.split("\t");
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const id = fields[i]!;
    const rights = expand(fields[i + 1]!);
    const negative = id.startsWith("-");
    if (!matches(negative ? id.slice(1) : id, userid)) continue;
    for (const r of rights) (negative ? denied : granted).add(r);
  }
  for (const r of denied) granted.delete(r);
  return granted;
}
