import { and, eq } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAuditChain } from '../audit/verify.js';
import { closeDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { createDirectory, DirectoryError, pickRole, type Directory } from '../directory/index.js';
import { slug, userIdBase } from '../directory/names.js';
import { openTestDatabase } from './helpers/test-database.js';

// The directory aggregate on a fresh migrated database with the demo organisation:
// ids, the role rule, removal that keeps history, group binding, and an audit entry
// for every change (and none for a change refused).

let db: DB;
let directory: Directory;

beforeEach(async () => {
  db = await openTestDatabase();
  await seed(db);
  directory = createDirectory({ db });
});

afterEach(async () => {
  await closeDatabase(db);
});

// In a stable order, to compare before and after: PostgreSQL returns rows in no particular order.
const allUsers = () => db.select().from(t.users).orderBy(t.users.id);
const allMembers = () =>
  db.select().from(t.groupMembers).orderBy(t.groupMembers.groupId, t.groupMembers.userId);

const trail = async (subject?: string) =>
  (
    await db
      .select()
      .from(t.auditLog)
      .where(subject ? eq(t.auditLog.subject, subject) : undefined)
      .orderBy(t.auditLog.seq)
  ).map((e) => `${e.actor} ${e.action} ${e.subject}`);

async function refusal(p: Promise<unknown>): Promise<DirectoryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DirectoryError);
  return err as DirectoryError;
}

describe('ids', () => {
  it('derive a readable id from the userName, made unique', async () => {
    expect(userIdBase('Frank.Miller@Example.com')).toBe('frank.miller');
    expect(userIdBase('Zoë Ünal')).toBe('zoe-unal');
    expect(userIdBase('@@@')).toBe('user');
    expect(slug('  -- Finance & Ops --  ', 'group')).toBe('finance-ops');

    const first = await directory.createUser({ userName: 'sam@example.com' }, 'scim');
    const second = await directory.createUser({ userName: 'sam@corp.example' }, 'scim');
    const third = await directory.createUser({ userName: 'Sam' }, 'scim');
    expect([first.id, second.id, third.id]).toEqual(['sam', 'sam-2', 'sam-3']);
    // Someone new whose name matches a seeded id gets their own.
    expect((await directory.createUser({ userName: 'alice@elsewhere.example' }, 'scim')).id).toBe('alice-2');
  });
});

describe('the role rule', () => {
  const roles = [
    { id: 'engineer', name: 'Engineer' },
    { id: 'engineering-manager', name: 'Engineering manager' },
  ];

  it('takes the first hint that names a role by id or name, ignoring case and spacing', () => {
    expect(pickRole(['Engineering Manager'], roles)?.id).toBe('engineering-manager');
    expect(pickRole(['engineering_manager'], roles)?.id).toBe('engineering-manager');
    expect(pickRole([undefined, 'Senior Engineer', 'ENGINEER'], roles)?.id).toBe('engineer');
    expect(pickRole(['Astronaut', null, ''], roles)).toBeUndefined();
  });

  it('gives everyone else the employee role, created once when first needed', async () => {
    expect((await db.select().from(t.roles).where(eq(t.roles.id, 'employee')).limit(1))[0]).toBeUndefined();
    const a = await directory.createUser({ userName: 'a@example.com', roleHints: ['Astronaut'] }, 'scim');
    const b = await directory.createUser({ userName: 'b@example.com' }, 'scim');
    const c = await directory.createUser({ userName: 'c@example.com', roleHints: ['Director'] }, 'scim');
    expect([a.roleId, b.roleId, c.roleId]).toEqual(['employee', 'employee', 'director']);
    expect(await trail('employee')).toEqual(['scim role.created employee']);
  });
});

describe('people', () => {
  it('creates, updates, deactivates and reactivates with one audit entry per change', async () => {
    const frank = await directory.createUser(
      {
        userName: 'frank@example.com',
        externalId: 'entra-frank',
        displayName: 'Frank Miller',
        roleHints: ['engineer'],
        managerId: 'bob',
      },
      'scim',
    );
    expect(frank).toMatchObject({
      id: 'frank',
      email: 'frank@example.com',
      name: 'Frank Miller',
      roleId: 'engineer',
      managerId: 'bob',
      managerName: 'Bob Baker',
      active: true,
    });
    const same = { userName: 'frank@example.com', externalId: 'entra-frank', displayName: 'Frank Miller' };
    await directory.replaceUser('frank', { ...same, roleHints: ['engineer'], managerId: 'bob' }, 'scim');
    await directory.replaceUser('frank', { ...same, roleHints: ['director'], managerId: 'erin' }, 'scim');
    await directory.replaceUser(
      'frank',
      { ...same, roleHints: ['director'], managerId: 'erin', active: false },
      'scim',
    );
    await directory.replaceUser(
      'frank',
      { ...same, roleHints: ['director'], managerId: 'erin', active: true },
      'olga',
    );
    expect(await trail('frank')).toEqual([
      'scim user.created frank',
      'scim user.updated frank',
      'scim user.deactivated frank',
      'olga user.reactivated frank',
    ]);
    const [updated] = await db
      .select()
      .from(t.auditLog)
      .where(eq(t.auditLog.action, 'user.updated'))
      .orderBy(t.auditLog.seq)
      .limit(1);
    expect(updated?.details).toEqual({
      changes: { roleId: { from: 'engineer', to: 'director' }, managerId: { from: 'bob', to: 'erin' } },
    });
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('refuses a taken userName or externalId and an unknown manager, writing nothing', async () => {
    await directory.createUser({ userName: 'frank@example.com', externalId: 'x-1' }, 'scim');
    const users = await allUsers();
    const entries = (await trail()).length;

    expect((await refusal(directory.createUser({ userName: 'FRANK@example.com' }, 'scim'))).reason).toBe(
      'uniqueness',
    );
    expect(
      (await refusal(directory.createUser({ userName: 'gina@example.com', externalId: 'x-1' }, 'scim')))
        .reason,
    ).toBe('uniqueness');
    expect(
      (await refusal(directory.createUser({ userName: 'gina@example.com', managerId: 'nobody' }, 'scim')))
        .reason,
    ).toBe('invalidValue');
    expect((await refusal(directory.replaceUser('alice', { userName: 'bob' }, 'scim'))).reason).toBe(
      'uniqueness',
    );
    expect(
      (await refusal(directory.replaceUser('alice', { userName: 'alice', managerId: 'alice' }, 'scim')))
        .reason,
    ).toBe('invalidValue');
    expect(await allUsers()).toEqual(users);
    expect(await trail()).toHaveLength(entries);
  });

  it('removes by deactivating and hiding: the row, its requests and its trail stay', async () => {
    await directory.removeUser('dave', 'scim');
    const [row] = await db.select().from(t.users).where(eq(t.users.id, 'dave'));
    expect(row).toMatchObject({ active: false, removedAt: expect.any(String) as unknown });
    expect(await directory.findUser('dave')).toBeUndefined();
    expect(await directory.findUsers({ userName: 'dave' })).toEqual([]);
    expect((await directory.listUsers()).map((u) => u.id)).not.toContain('dave');
    // Out of his groups: the rights go with him.
    expect(await db.select().from(t.groupMembers).where(eq(t.groupMembers.userId, 'dave'))).toEqual([]);
    expect((await trail()).slice(-4)).toEqual([
      'scim group.member_removed procurement',
      'scim group.member_removed service-desk',
      'scim user.deactivated dave',
      'scim user.removed dave',
    ]);
    expect((await refusal(directory.removeUser('dave', 'scim'))).reason).toBe('notFound');
    expect((await refusal(directory.replaceUser('dave', { userName: 'dave' }, 'scim'))).reason).toBe(
      'notFound',
    );
    // Created again with the same userName: the same person, id and history.
    const back = await directory.createUser(
      {
        userName: 'dave',
        displayName: 'Dave Diaz',
        email: 'dave@example.com',
        roleHints: ['service-desk'],
        managerId: 'erin',
      },
      'scim',
    );
    expect(back).toMatchObject({ id: 'dave', active: true });
    expect((await trail('dave')).slice(-2)).toEqual([
      'scim user.restored dave',
      'scim user.reactivated dave',
    ]);
  });
});

describe('groups', () => {
  it('binds a provider group to the reqflow group it names, else creates a directory group', async () => {
    const cab = await directory.provisionGroup(
      { displayName: 'Change Advisory Board', externalId: 'g-cab', members: ['erin', 'bob'] },
      'scim',
    );
    expect(cab).toMatchObject({ id: 'cab', kind: 'cab', provisioned: true, externalId: 'g-cab' });
    expect(cab.members.map((m) => m.id)).toEqual(['bob', 'erin']);
    const ops = await directory.provisionGroup({ displayName: 'OPERATORS', members: [] }, 'scim');
    expect(ops).toMatchObject({ id: 'operators', kind: 'operators', members: [] });
    const byExternalId = await directory.provisionGroup(
      { displayName: 'Helpdesk L1', externalId: 'service-desk', members: ['dave'] },
      'scim',
    );
    expect(byExternalId).toMatchObject({ id: 'service-desk', kind: 'fulfillment', name: 'Helpdesk L1' });
    const finance = await directory.provisionGroup(
      { displayName: 'Finance Team', members: ['carol'] },
      'scim',
    );
    expect(finance).toMatchObject({ id: 'finance-team', kind: 'directory', provisioned: true });

    expect(
      (await refusal(directory.provisionGroup({ displayName: 'cab', members: [] }, 'scim'))).reason,
    ).toBe('uniqueness');
    expect(
      (await refusal(directory.provisionGroup({ displayName: 'Auditors', members: ['nobody'] }, 'scim')))
        .reason,
    ).toBe('invalidValue');
    expect(await directory.findProvisionedGroup('auditors')).toBeUndefined();
    expect((await directory.listProvisionedGroups()).map((g) => g.id)).toEqual([
      'cab',
      'finance-team',
      'operators',
      'service-desk',
    ]);
    expect(await trail('operators')).toContain('scim group.member_removed operators');
  });

  it('applies a change computed from an earlier read as a difference, so concurrent changes both land', async () => {
    await directory.provisionGroup({ displayName: 'CAB', members: ['erin'] }, 'scim');
    const read = ['erin'];
    // Two PATCHes read the group at the same time; one adds bob, the other adds olga and removes erin.
    await directory.replaceProvisionedGroup('cab', { displayName: 'CAB', members: ['erin', 'bob'] }, 'scim', {
      since: read,
    });
    const after = await directory.replaceProvisionedGroup(
      'cab',
      { displayName: 'CAB', members: ['olga'] },
      'scim',
      { since: read },
    );
    expect(after.members.map((m) => m.id)).toEqual(['bob', 'olga']);
    // Without a starting point (a PUT) the list given is the list kept.
    const put = await directory.replaceProvisionedGroup(
      'cab',
      { displayName: 'CAB', members: ['erin'] },
      'scim',
    );
    expect(put.members.map((m) => m.id)).toEqual(['erin']);
  });

  it('releases a group by emptying and unbinding it; the group itself stays', async () => {
    await directory.provisionGroup({ displayName: 'Procurement', members: ['dave', 'carol'] }, 'scim');
    await directory.releaseGroup('procurement', 'scim');
    const [row] = await db.select().from(t.groups).where(eq(t.groups.id, 'procurement'));
    expect(row).toMatchObject({ kind: 'fulfillment', scimManaged: false, externalId: null });
    expect(
      await db
        .select()
        .from(t.groupMembers)
        .where(eq(t.groupMembers.groupId, 'procurement'))
        .orderBy(t.groupMembers.userId),
    ).toEqual([]);
    expect(await directory.findProvisionedGroup('procurement')).toBeUndefined();
    expect((await refusal(directory.releaseGroup('procurement', 'scim'))).reason).toBe('notFound');
  });
});

describe('the demo organisation', () => {
  it('arrives through the directory, audited as the seed', async () => {
    expect(await trail('alice')).toEqual(['seed user.created alice']);
    expect(await trail('cab')).toEqual(['seed group.created cab', 'seed group.member_added cab']);
    const [alice] = await db.select().from(t.users).where(eq(t.users.id, 'alice'));
    expect(alice).toMatchObject({
      userName: 'alice',
      email: 'alice@example.com',
      roleId: 'engineer',
      managerId: 'bob',
    });
  });

  it('is seeded again without a change, keeping what the running system changed', async () => {
    await directory.removeUser('carol', 'scim');
    await directory.provisionGroup({ displayName: 'Service Desk', members: ['alice'] }, 'scim');
    const entries = (await trail()).length;
    const users = await allUsers();
    const members = await allMembers();

    await seed(db);
    expect(await trail()).toHaveLength(entries);
    expect(await allUsers()).toEqual(users);
    expect(await allMembers()).toEqual(members);
    expect(
      (
        await db
          .select()
          .from(t.groupMembers)
          .where(and(eq(t.groupMembers.groupId, 'service-desk'), eq(t.groupMembers.userId, 'dave')))
          .limit(1)
      )[0],
    ).toBeUndefined();
  });
});
