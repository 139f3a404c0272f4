import { and, asc, eq, inArray, isNull, ne, sql } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { change, type Change, type DirectoryDeps, type Reader } from './changes.js';
import { invalidValue, notFound, taken } from './errors.js';
import { unique, userIdBase } from './names.js';
import { roleFor } from './roles.js';

/** A person as the identity provider (or the demo seed) describes them. */
export interface UserInput {
  /** Unique, compared case-insensitively; what sign-in matches. */
  userName: string;
  externalId?: string | null;
  displayName?: string | null;
  email?: string | null;
  /** Words that may name a reqflow role, most specific first (see pickRole). */
  roleHints?: readonly (string | null | undefined)[];
  /** The manager's reqflow id; null: nobody. */
  managerId?: string | null;
  /** Omitted: unchanged (active for someone new). */
  active?: boolean;
}

export interface DirectoryUser {
  id: string;
  userName: string;
  externalId: string | null;
  name: string;
  email: string;
  roleId: string;
  roleName: string;
  managerId: string | null;
  managerName: string | null;
  active: boolean;
  createdAt: string | null;
  updatedAt: string | null;
  /** Groups the person belongs to; `provisioned` ones are managed by the identity provider. */
  groups: { id: string; name: string; provisioned: boolean }[];
}

type UserRow = typeof t.users.$inferSelect;

const MAX_USER_NAME = 256;

async function views(q: Reader, rows: UserRow[]): Promise<DirectoryUser[]> {
  if (rows.length === 0) return [];
  const roles = new Map((await q.select().from(t.roles)).map((r) => [r.id, r.name]));
  const managerIds = [...new Set(rows.map((r) => r.managerId).filter((id): id is string => id !== null))];
  const managers = new Map(
    managerIds.length === 0
      ? []
      : (
          await q
            .select({ id: t.users.id, name: t.users.name })
            .from(t.users)
            .where(inArray(t.users.id, managerIds))
        ).map((m) => [m.id, m.name]),
  );
  const memberships = new Map<string, DirectoryUser['groups']>();
  for (const m of await q
    .select({
      userId: t.groupMembers.userId,
      id: t.groups.id,
      name: t.groups.name,
      provisioned: t.groups.scimManaged,
    })
    .from(t.groupMembers)
    .innerJoin(t.groups, eq(t.groups.id, t.groupMembers.groupId))
    .where(
      inArray(
        t.groupMembers.userId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(asc(t.groups.id))) {
    const list = memberships.get(m.userId) ?? [];
    list.push({ id: m.id, name: m.name, provisioned: m.provisioned });
    memberships.set(m.userId, list);
  }
  return rows.map((r) => ({
    id: r.id,
    userName: r.userName,
    externalId: r.externalId,
    name: r.name,
    email: r.email,
    roleId: r.roleId,
    roleName: roles.get(r.roleId) ?? r.roleId,
    managerId: r.managerId,
    managerName: r.managerId ? (managers.get(r.managerId) ?? null) : null,
    active: r.active,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    groups: memberships.get(r.id) ?? [],
  }));
}

async function view(q: Reader, row: UserRow): Promise<DirectoryUser> {
  return (await views(q, [row]))[0]!;
}

const current = isNull(t.users.removedAt);
const byUserName = (userName: string) => eq(sql`lower(${t.users.userName})`, userName.toLowerCase());

async function rowById(q: Reader, id: string): Promise<UserRow | undefined> {
  const [row] = await q.select().from(t.users).where(eq(t.users.id, id)).limit(1);
  return row;
}

/** What the input says, cleaned; refused when it cannot describe a person. */
function checked(input: UserInput) {
  const userName = input.userName.trim();
  if (!userName) throw invalidValue('userName must not be empty.');
  if (userName.length > MAX_USER_NAME)
    throw invalidValue(`userName is longer than ${MAX_USER_NAME} characters.`);
  const email = input.email?.trim() || (userName.includes('@') ? userName : '');
  return {
    userName,
    externalId: input.externalId?.trim() || null,
    name: input.displayName?.trim() || userName,
    email,
    managerId: input.managerId?.trim() || null,
  };
}

/** Refuses a userName or externalId that another person holds (removed people keep theirs). */
async function assertFree(
  c: Change,
  fields: { userName: string; externalId: string | null },
  self?: string,
): Promise<void> {
  const other = async (where: ReturnType<typeof and>) =>
    (
      await c.tx
        .select({ id: t.users.id, removedAt: t.users.removedAt })
        .from(t.users)
        .where(self ? and(where, ne(t.users.id, self)) : where)
        .limit(1)
    )[0];
  const sameName = await other(byUserName(fields.userName));
  if (sameName)
    throw taken(
      `userName "${fields.userName}" is already taken by ${sameName.removedAt ? 'a removed user' : `user ${sameName.id}`}.`,
    );
  if (fields.externalId) {
    const sameExternal = await other(eq(t.users.externalId, fields.externalId));
    if (sameExternal)
      throw taken(
        `externalId "${fields.externalId}" is already taken by ${sameExternal.removedAt ? 'a removed user' : `user ${sameExternal.id}`}.`,
      );
  }
}

/** A manager must be a person the directory knows (inactive is fine: approvals skip them). */
async function assertManager(c: Change, managerId: string | null, self?: string): Promise<void> {
  if (!managerId) return;
  if (managerId === self) throw invalidValue('A person cannot be their own manager.');
  const manager = await rowById(c.tx, managerId);
  if (!manager || manager.removedAt)
    throw invalidValue(`manager "${managerId}" is not a known user (send the manager's SCIM id).`);
}

/** The audit trail's picture of a person: what each field says. */
const snapshot = (
  r: Pick<UserRow, 'userName' | 'externalId' | 'name' | 'email' | 'roleId' | 'managerId'>,
) => ({
  userName: r.userName,
  externalId: r.externalId,
  name: r.name,
  email: r.email,
  roleId: r.roleId,
  managerId: r.managerId,
});

/** Writes `next` over `row`, auditing what changed; returns whether anything did. */
async function update(
  c: Change,
  row: UserRow,
  next: ReturnType<typeof snapshot> & { active: boolean },
): Promise<boolean> {
  const before = snapshot(row);
  const after = snapshot(next);
  const changes = Object.fromEntries(
    (Object.keys(before) as (keyof typeof before)[])
      .filter((k) => before[k] !== after[k])
      .map((k) => [k, { from: before[k], to: after[k] }]),
  );
  const activeChanged = row.active !== next.active;
  if (Object.keys(changes).length === 0 && !activeChanged) return false;
  await c.tx
    .update(t.users)
    .set({ ...after, active: next.active, updatedAt: c.at })
    .where(eq(t.users.id, row.id));
  if (Object.keys(changes).length > 0) await c.audit('user.updated', row.id, { changes });
  if (activeChanged) await c.audit(next.active ? 'user.reactivated' : 'user.deactivated', row.id, {});
  if (activeChanged && !next.active) await c.deactivated(row.id);
  return true;
}

async function createIn(c: Change, input: UserInput): Promise<UserRow> {
  const fields = checked(input);
  // Someone the provider deleted and now creates again keeps their id and history.
  const [removed] = await c.tx
    .select()
    .from(t.users)
    .where(and(byUserName(fields.userName), sql`${t.users.removedAt} is not null`))
    .limit(1);
  if (removed) {
    await assertFree(c, fields, removed.id);
    await assertManager(c, fields.managerId, removed.id);
    const roleId = await roleFor(c, input.roleHints ?? []);
    await c.tx.update(t.users).set({ removedAt: null }).where(eq(t.users.id, removed.id));
    await c.audit('user.restored', removed.id, { userName: fields.userName });
    await update(c, { ...removed, removedAt: null }, { ...fields, roleId, active: input.active ?? true });
    return (await rowById(c.tx, removed.id))!;
  }
  await assertFree(c, fields);
  await assertManager(c, fields.managerId);
  const roleId = await roleFor(c, input.roleHints ?? []);
  const id = await unique(
    userIdBase(fields.userName),
    async (candidate) => (await rowById(c.tx, candidate)) !== undefined,
  );
  const row = {
    id,
    ...fields,
    roleId,
    active: input.active ?? true,
    removedAt: null,
    createdAt: c.at,
    updatedAt: c.at,
  };
  await c.tx.insert(t.users).values(row);
  await c.audit('user.created', id, { ...snapshot(row), active: row.active });
  return row;
}

/**
 * People: the only writer of `users`. Every change is one transaction with its audit
 * entries (actor `scim`, `seed` or an operator). Nobody is ever deleted: removal
 * deactivates and sets `removedAt`, so approvals, requests and the trail keep pointing
 * at a real row; removed people are invisible to every read here.
 */
export function createUserDirectory(deps: DirectoryDeps) {
  const { db } = deps;
  return {
    async findUser(id: string): Promise<DirectoryUser | undefined> {
      const [row] = await db
        .select()
        .from(t.users)
        .where(and(eq(t.users.id, id), current))
        .limit(1);
      return row ? view(db, row) : undefined;
    },

    /** Exact lookups the identity provider filters by; userName ignores case. */
    async findUsers(by: { id?: string; userName?: string; externalId?: string }): Promise<DirectoryUser[]> {
      const rows = await db
        .select()
        .from(t.users)
        .where(
          and(
            current,
            by.id !== undefined ? eq(t.users.id, by.id) : undefined,
            by.userName !== undefined ? byUserName(by.userName) : undefined,
            by.externalId !== undefined ? eq(t.users.externalId, by.externalId) : undefined,
          ),
        )
        .orderBy(asc(t.users.id));
      return views(db, rows);
    },

    async listUsers(): Promise<DirectoryUser[]> {
      return views(db, await db.select().from(t.users).where(current).orderBy(asc(t.users.id)));
    },

    /** A new person, with an id derived from their userName (see names.ts). 409-style refusal when the userName is taken. */
    async createUser(input: UserInput, actor: string): Promise<DirectoryUser> {
      return change(deps, actor, async (c) => view(c.tx, await createIn(c, input)));
    },

    /**
     * Creates the person unless someone (even removed) already has this userName or the id
     * it would get: the demo organisation is seeded this way, so a restart keeps whatever
     * the running system changed since.
     */
    async ensureUser(input: UserInput, actor: string): Promise<{ user: DirectoryUser; created: boolean }> {
      return change(deps, actor, async (c) => {
        const [sameName] = await c.tx
          .select()
          .from(t.users)
          .where(byUserName(input.userName.trim()))
          .limit(1);
        const existing = sameName ?? (await rowById(c.tx, userIdBase(input.userName)));
        if (existing) return { user: await view(c.tx, existing), created: false };
        return { user: await view(c.tx, await createIn(c, input)), created: true };
      });
    },

    /** Replaces what the provider manages about a person (SCIM PUT, and PATCH once applied). */
    async replaceUser(id: string, input: UserInput, actor: string): Promise<DirectoryUser> {
      return change(deps, actor, async (c) => {
        const row = await rowById(c.tx, id);
        if (!row || row.removedAt) throw notFound(`User ${id} not found.`);
        const fields = checked(input);
        await assertFree(c, fields, id);
        await assertManager(c, fields.managerId, id);
        const roleId = await roleFor(c, input.roleHints ?? []);
        await update(c, row, { ...fields, roleId, active: input.active ?? row.active });
        return view(c.tx, (await rowById(c.tx, id))!);
      });
    },

    /**
     * The provider deleted the person: deactivated, out of every group (their rights go
     * with it), marked removed and hidden from now on. The row stays for the history.
     */
    async removeUser(id: string, actor: string): Promise<DirectoryUser> {
      return change(deps, actor, async (c) => {
        const row = await rowById(c.tx, id);
        if (!row || row.removedAt) throw notFound(`User ${id} not found.`);
        const memberships = await c.tx
          .select()
          .from(t.groupMembers)
          .where(eq(t.groupMembers.userId, id))
          .orderBy(asc(t.groupMembers.groupId));
        for (const m of memberships) {
          await c.tx
            .delete(t.groupMembers)
            .where(and(eq(t.groupMembers.groupId, m.groupId), eq(t.groupMembers.userId, id)));
          await c.audit('group.member_removed', m.groupId, { userId: id, why: 'user removed' });
        }
        await c.tx
          .update(t.users)
          .set({ active: false, removedAt: c.at, updatedAt: c.at })
          .where(eq(t.users.id, id));
        if (row.active) {
          await c.audit('user.deactivated', id, {});
          await c.deactivated(id);
        }
        await c.audit('user.removed', id, { userName: row.userName });
        return view(c.tx, (await rowById(c.tx, id))!);
      });
    },
  };
}

export type UserDirectory = ReturnType<typeof createUserDirectory>;
