import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { preparedQuery, type DB } from '../db/client.js';
import * as t from '../db/schema.js';

/** Who is calling: the user and the groups that decide fulfiller and operator rights. */
export interface UserPrincipal {
  id: string;
  name: string;
  roleId: string;
  groups: string[];
  isOperator: boolean;
}

const isActive = and(eq(t.users.active, true), isNull(t.users.removedAt));

const activeUser = preparedQuery((db) =>
  db
    .select()
    .from(t.users)
    .where(and(eq(t.users.id, sql.placeholder('userId')), isActive))
    .limit(1)
    .prepare(),
);
const groupsOf = preparedQuery((db) =>
  db
    .select({ id: t.groupMembers.groupId })
    .from(t.groupMembers)
    .where(eq(t.groupMembers.userId, sql.placeholder('userId')))
    .prepare(),
);

/** The principal of an active, non-removed user; undefined for anyone else. */
export async function loadPrincipal(db: DB, userId: string): Promise<UserPrincipal | undefined> {
  const [user] = await activeUser(db, { userId });
  if (!user) return undefined;
  const groups = (await groupsOf(db, { userId })).map((g) => g.id);
  return {
    id: user.id,
    name: user.name,
    roleId: user.roleId,
    groups,
    isOperator: groups.includes('operators'),
  };
}

/** What an identity provider's token says about the person. */
export interface SignInClaims {
  /** The username claim (OIDC_USERNAME_CLAIM): matched to userName, case-insensitively, or to externalId. */
  username?: string | undefined;
  /** The provider's subject: matched to externalId. */
  sub?: string | undefined;
}

export type SignInMatch =
  | { ok: true; principal: UserPrincipal }
  /** unknown: nobody matches; inactive: deactivated or removed; ambiguous: the claims name different users. */
  | { ok: false; reason: 'unknown' | 'inactive' | 'ambiguous'; userIds: string[] };

/**
 * The reqflow user a signed-in person is. Every way the claims may name a user is looked
 * up; when they name two different users (a username that is one user's userName and
 * another's externalId, say), nobody is signed in rather than guessing which one is meant.
 */
export async function findSignInUser(db: DB, claims: SignInClaims): Promise<SignInMatch> {
  const { username, sub } = claims;
  const ways = [
    username ? sql`lower(${t.users.userName}) = lower(${username})` : undefined,
    username ? eq(t.users.externalId, username) : undefined,
    sub ? eq(t.users.externalId, sub) : undefined,
  ].filter((w) => w !== undefined);
  if (ways.length === 0) return { ok: false, reason: 'unknown', userIds: [] };
  const matches = await db
    .select({ id: t.users.id, active: t.users.active, removedAt: t.users.removedAt })
    .from(t.users)
    .where(or(...ways));
  const userIds = matches.map((m) => m.id);
  const [user, ...others] = matches;
  if (!user) return { ok: false, reason: 'unknown', userIds };
  if (others.length > 0) return { ok: false, reason: 'ambiguous', userIds };
  const principal = user.active && !user.removedAt ? await loadPrincipal(db, user.id) : undefined;
  return principal ? { ok: true, principal } : { ok: false, reason: 'inactive', userIds };
}
