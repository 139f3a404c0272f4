import { eq } from 'drizzle-orm';
import * as t from '../db/schema.js';
import type { Change, Reader } from './changes.js';

/** Who someone is when nothing the provider says names a reqflow role. Created when first needed. */
export const DEFAULT_ROLE = { id: 'employee', name: 'Employee' } as const;

export interface Role {
  id: string;
  name: string;
}

/** "Engineering Manager", "engineering_manager" and "engineering-manager" compare equal. */
const comparable = (s: string) =>
  s
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');

/**
 * The role rule: the first hint that names a reqflow role, by id or by name (case and
 * spacing ignored), decides. The SCIM mapping passes the primary `roles[].value`, the
 * other `roles[]` values, then `title`. No hint matches: undefined (the default role).
 */
export function pickRole(
  hints: readonly (string | null | undefined)[],
  roles: readonly Role[],
): Role | undefined {
  for (const hint of hints) {
    if (!hint?.trim()) continue;
    const wanted = comparable(hint);
    const role = roles.find((r) => comparable(r.id) === wanted || comparable(r.name) === wanted);
    if (role) return role;
  }
  return undefined;
}

export async function allRoles(q: Reader): Promise<Role[]> {
  return q.select().from(t.roles);
}

/** Creates the role unless it exists; only the directory writes roles. */
export async function ensureRoleIn(c: Change, role: Role): Promise<boolean> {
  const [existing] = await c.tx.select().from(t.roles).where(eq(t.roles.id, role.id)).limit(1);
  if (existing) return false;
  await c.tx.insert(t.roles).values(role);
  await c.audit('role.created', role.id, { name: role.name });
  return true;
}

/** The role id the rule gives for these hints, creating the default role when it is the answer and missing. */
export async function roleFor(c: Change, hints: readonly (string | null | undefined)[]): Promise<string> {
  const picked = pickRole(hints, await allRoles(c.tx));
  if (picked) return picked.id;
  await ensureRoleIn(c, DEFAULT_ROLE);
  return DEFAULT_ROLE.id;
}
