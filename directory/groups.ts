import { and, asc, eq, inArray, or, sql } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { change, type Change, type DirectoryDeps, type Reader } from './changes.js';
import { invalidValue, notFound, taken } from './errors.js';
import { groupIdBase, unique } from './names.js';

type GroupRow = typeof t.groups.$inferSelect;
export type GroupKind = GroupRow['kind'];

export interface DirectoryGroup {
  id: string;
  name: string;
  kind: GroupKind;
  externalId: string | null;
  /** Bound to the identity provider, which now manages its members. */
  provisioned: boolean;
  /** Current (not removed) people in the group. */
  members: { id: string; name: string }[];
  createdAt: string | null;
  updatedAt: string | null;
}

/** A group as the identity provider describes it. */
export interface GroupInput {
  displayName: string;
  externalId?: string | null;
  /** reqflow user ids (the SCIM ids of the members). */
  members: readonly string[];
}

async function views(q: Reader, rows: GroupRow[]): Promise<DirectoryGroup[]> {
  if (rows.length === 0) return [];
  const members = new Map<string, DirectoryGroup['members']>();
  for (const m of await q
    .select({ groupId: t.groupMembers.groupId, id: t.users.id, name: t.users.name })
    .from(t.groupMembers)
    .innerJoin(t.users, eq(t.users.id, t.groupMembers.userId))
    .where(
      and(
        inArray(
          t.groupMembers.groupId,
          rows.map((r) => r.id),
        ),
        sql`${t.users.removedAt} is null`,
      ),
    )
    .orderBy(asc(t.users.id))) {
    const list = members.get(m.groupId) ?? [];
    list.push({ id: m.id, name: m.name });
    members.set(m.groupId, list);
  }
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    kind: r.kind,
    externalId: r.externalId,
    provisioned: r.scimManaged,
    members: members.get(r.id) ?? [],
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }));
}

const view = async (q: Reader, row: GroupRow) => (await views(q, [row]))[0]!;
const rowById = async (q: Reader, id: string): Promise<GroupRow | undefined> =>
  (await q.select().from(t.groups).where(eq(t.groups.id, id)).limit(1))[0];
const lower = (s: string) => s.toLowerCase();

async function provisionedRow(q: Reader, id: string): Promise<GroupRow> {
  const row = await rowById(q, id);
  if (!row?.scimManaged) throw notFound(`Group ${id} not found.`);
  return row;
}

/**
 * The reqflow group a provider's group stands for: the one whose id equals its externalId
 * or displayName, else the one whose name equals its displayName (case ignored both ways).
 */
async function boundTarget(c: Change, input: { displayName: string; externalId: string | null }) {
  const candidates = await c.tx
    .select()
    .from(t.groups)
    .where(
      or(
        input.externalId ? eq(sql`lower(${t.groups.id})`, lower(input.externalId)) : undefined,
        eq(sql`lower(${t.groups.id})`, lower(input.displayName)),
        eq(sql`lower(${t.groups.name})`, lower(input.displayName)),
      ),
    );
  const rank = (g: GroupRow) =>
    input.externalId && lower(g.id) === lower(input.externalId)
      ? 0
      : lower(g.id) === lower(input.displayName)
        ? 1
        : 2;
  return candidates.sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id))[0];
}

async function assertExternalIdFree(c: Change, externalId: string | null, self?: string): Promise<void> {
  if (!externalId) return;
  const [other] = await c.tx.select().from(t.groups).where(eq(t.groups.externalId, externalId)).limit(1);
  if (other && other.id !== self)
    throw taken(`externalId "${externalId}" already belongs to group ${other.id}.`);
}

async function currentMembers(q: Reader, groupId: string): Promise<string[]> {
  const rows = await q
    .select({ userId: t.groupMembers.userId })
    .from(t.groupMembers)
    .where(eq(t.groupMembers.groupId, groupId));
  return rows.map((m) => m.userId);
}

/** Makes the group's members exactly `wanted`, auditing each addition and removal. */
async function setMembers(c: Change, groupId: string, wanted: readonly string[]): Promise<void> {
  const want = new Set(wanted);
  if (want.size > 0) {
    const known = new Set(
      (
        await c.tx
          .select({ id: t.users.id })
          .from(t.users)
          .where(and(inArray(t.users.id, [...want]), sql`${t.users.removedAt} is null`))
      ).map((u) => u.id),
    );
    const unknown = [...want].filter((id) => !known.has(id));
    if (unknown.length > 0)
      throw invalidValue(
        `members: ${unknown.map((id) => `"${id}"`).join(', ')} not a known user (send SCIM user ids).`,
      );
  }
  const have = new Set(await currentMembers(c.tx, groupId));
  for (const userId of have) {
    if (want.has(userId)) continue;
    await c.tx
      .delete(t.groupMembers)
      .where(and(eq(t.groupMembers.groupId, groupId), eq(t.groupMembers.userId, userId)));
    await c.audit('group.member_removed', groupId, { userId });
  }
  for (const userId of want) {
    if (have.has(userId)) continue;
    await c.tx.insert(t.groupMembers).values({ groupId, userId });
    await c.audit('group.member_added', groupId, { userId });
  }
}

function cleaned(input: GroupInput) {
  const displayName = input.displayName.trim();
  if (!displayName) throw invalidValue('displayName must not be empty.');
  return { displayName, externalId: input.externalId?.trim() || null, members: input.members };
}

/**
 * Groups and memberships: the only writer of `groups` and `group_members`. Fulfillment
 * groups, the CAB, the operators and the auditors carry rights in reqflow; an identity
 * provider's group binds to one of them (see boundTarget) and from then on decides its
 * members. A provider's group that matches none becomes a `directory` group, which
 * carries no rights. Groups are never deleted: tasks, items and the trail name them.
 */
export interface EnsuredGroup {
  id: string;
  name: string;
  kind: GroupKind;
  members?: readonly string[];
}

export function createGroupDirectory(deps: DirectoryDeps) {
  const { db } = deps;
  return {
    /** A group bound to the identity provider (the only ones SCIM sees). */
    async findProvisionedGroup(id: string): Promise<DirectoryGroup | undefined> {
      const row = await rowById(db, id);
      return row?.scimManaged ? view(db, row) : undefined;
    },

    /** Exact lookups the identity provider filters by; displayName ignores case. */
    async findProvisionedGroups(by: {
      id?: string;
      displayName?: string;
      externalId?: string;
    }): Promise<DirectoryGroup[]> {
      const rows = await db
        .select()
        .from(t.groups)
        .where(
          and(
            eq(t.groups.scimManaged, true),
            by.id !== undefined ? eq(t.groups.id, by.id) : undefined,
            by.displayName !== undefined
              ? eq(sql`lower(${t.groups.name})`, lower(by.displayName))
              : undefined,
            by.externalId !== undefined ? eq(t.groups.externalId, by.externalId) : undefined,
          ),
        )
        .orderBy(asc(t.groups.id));
      return views(db, rows);
    },

    async listProvisionedGroups(): Promise<DirectoryGroup[]> {
      return views(
        db,
        await db.select().from(t.groups).where(eq(t.groups.scimManaged, true)).orderBy(asc(t.groups.id)),
      );
    },

    /**
     * The provider creates a group: it binds to the reqflow group it stands for (refused
     * when that one is bound already), or becomes a new `directory` group; its members
     * become exactly the ones given.
     */
    async provisionGroup(input: GroupInput, actor: string): Promise<DirectoryGroup> {
      return change(deps, actor, async (c) => {
        const fields = cleaned(input);
        const target = await boundTarget(c, fields);
        if (target?.scimManaged)
          throw taken(`Group "${fields.displayName}" is already provisioned (as ${target.id}).`);
        await assertExternalIdFree(c, fields.externalId, target?.id);
        let id: string;
        if (target) {
          id = target.id;
          await c.tx
            .update(t.groups)
            .set({
              name: fields.displayName,
              externalId: fields.externalId,
              scimManaged: true,
              updatedAt: c.at,
            })
            .where(eq(t.groups.id, id));
          await c.audit('group.bound', id, {
            kind: target.kind,
            displayName: fields.displayName,
            externalId: fields.externalId,
            previousName: target.name,
          });
        } else {
          id = await unique(
            groupIdBase(fields.displayName),
            async (candidate) => (await rowById(c.tx, candidate)) !== undefined,
          );
          await c.tx.insert(t.groups).values({
            id,
            name: fields.displayName,
            kind: 'directory',
            externalId: fields.externalId,
            scimManaged: true,
            createdAt: c.at,
            updatedAt: c.at,
          });
          await c.audit('group.created', id, {
            kind: 'directory',
            name: fields.displayName,
            externalId: fields.externalId,
          });
        }
        await setMembers(c, id, fields.members);
        return view(c.tx, (await rowById(c.tx, id))!);
      });
    },

    /**
     * Replaces a provisioned group's name, externalId and members (SCIM PUT, and PATCH once
     * applied). `since` is the member list the caller's change started from (a PATCH reads
     * the group, then writes it back): then only what it added and removed is applied to
     * the members as they are now, so two PATCHes at once both land instead of the later
     * one undoing the earlier.
     */
    async replaceProvisionedGroup(
      id: string,
      input: GroupInput,
      actor: string,
      options: { since?: readonly string[] } = {},
    ): Promise<DirectoryGroup> {
      return change(deps, actor, async (c) => {
        const row = await provisionedRow(c.tx, id);
        const fields = cleaned(input);
        await assertExternalIdFree(c, fields.externalId, id);
        if (row.name !== fields.displayName || row.externalId !== fields.externalId) {
          await c.tx
            .update(t.groups)
            .set({ name: fields.displayName, externalId: fields.externalId, updatedAt: c.at })
            .where(eq(t.groups.id, id));
          await c.audit('group.updated', id, {
            ...(row.name !== fields.displayName ? { name: { from: row.name, to: fields.displayName } } : {}),
            ...(row.externalId !== fields.externalId
              ? { externalId: { from: row.externalId, to: fields.externalId } }
              : {}),
          });
        }
        let members = fields.members;
        if (options.since) {
          const before = new Set(options.since);
          const after = new Set(fields.members);
          const now = (await currentMembers(c.tx, id)).filter((m) => !before.has(m) || after.has(m));
          members = [...new Set([...now, ...fields.members.filter((m) => !before.has(m))])];
        }
        await setMembers(c, id, members);
        return view(c.tx, (await rowById(c.tx, id))!);
      });
    },

    /**
     * The provider deleted its group: the reqflow group stays (tasks and the trail name
     * it) but is emptied, so nobody keeps rights the provider no longer grants, and
     * unbound; SCIM no longer sees it.
     */
    async releaseGroup(id: string, actor: string): Promise<void> {
      await change(deps, actor, async (c) => {
        await provisionedRow(c.tx, id);
        await setMembers(c, id, []);
        await c.tx
          .update(t.groups)
          .set({ externalId: null, scimManaged: false, updatedAt: c.at })
          .where(eq(t.groups.id, id));
        await c.audit('group.released', id, {});
      });
    },

    /**
     * Creates a group with its first members unless a group with this id exists: the demo
     * organisation's groups are seeded this way, and a restart keeps the members the
     * running system gave them since. The catalog's apply calls it inside its own
     * transaction, which the change joins: the group commits or rolls back with the catalog.
     */
    async ensureGroup(
      group: EnsuredGroup,
      actor: string,
    ): Promise<{ group: DirectoryGroup; created: boolean }> {
      return change(deps, actor, async (c) => {
        const existing = await rowById(c.tx, group.id);
        if (existing) return { group: await view(c.tx, existing), created: false };
        await c.tx
          .insert(t.groups)
          .values({ id: group.id, name: group.name, kind: group.kind, createdAt: c.at, updatedAt: c.at });
        await c.audit('group.created', group.id, { kind: group.kind, name: group.name });
        await setMembers(c, group.id, group.members ?? []);
        return { group: await view(c.tx, (await rowById(c.tx, group.id))!), created: true };
      });
    },
  };
}

export type GroupDirectory = ReturnType<typeof createGroupDirectory>;
