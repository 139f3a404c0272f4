import { change, type DirectoryDeps } from './changes.js';
import { createGroupDirectory } from './groups.js';
import { ensureRoleIn, type Role } from './roles.js';
import { createUserDirectory } from './users.js';

export type { DirectoryDeps } from './changes.js';
export { DirectoryError } from './errors.js';
export type { DirectoryGroup, EnsuredGroup, GroupInput, GroupKind } from './groups.js';
export { DEFAULT_ROLE, pickRole, type Role } from './roles.js';
export type { DirectoryUser, UserInput } from './users.js';

/**
 * The directory aggregate: people, their roles and managers, groups and memberships.
 * It alone writes `users`, `roles`, `groups` and `group_members`; SCIM, the demo seed
 * and (later) operators call it, and every change it makes is in the audit trail.
 */
export function createDirectory(deps: DirectoryDeps) {
  return {
    ...createUserDirectory(deps),
    ...createGroupDirectory(deps),
    /** Creates the role unless it exists (roles come with the catalog's entitlements, not from the provider). */
    async ensureRole(role: Role, actor: string): Promise<{ created: boolean }> {
      return { created: await change(deps, actor, (c) => ensureRoleIn(c, role)) };
    },
  };
}

export type Directory = ReturnType<typeof createDirectory>;
