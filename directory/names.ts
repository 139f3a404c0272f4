// reqflow's own ids for people and groups. They are stable keys that workflows,
// approvals and the audit trail name, so they are derived once, when the directory
// first sees someone, and never change with the identity provider's names.

const MAX_ID_LENGTH = 64;

/** Lower-case, only [a-z0-9._-], no leading or trailing punctuation; `fallback` when nothing is left. */
export function slug(text: string, fallback: string): string {
  const s = text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .slice(0, MAX_ID_LENGTH)
    .replace(/^[-._]+|[-._]+$/g, '');
  return s || fallback;
}

/** The readable id for a new person: the local part of their userName (an e-mail address, usually). */
export function userIdBase(userName: string): string {
  const at = userName.indexOf('@');
  return slug(at > 0 ? userName.slice(0, at) : userName, 'user');
}

/** The id for a group the directory creates: its display name, as a slug. */
export function groupIdBase(displayName: string): string {
  return slug(displayName, 'group');
}

/** `base`, or `base-2`, `base-3`... whichever is not taken yet (`taken` looks it up). */
export async function unique(base: string, taken: (id: string) => Promise<boolean>): Promise<string> {
  if (!(await taken(base))) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base.slice(0, MAX_ID_LENGTH - String(n).length - 1)}-${n}`;
    if (!(await taken(candidate))) return candidate;
  }
}
