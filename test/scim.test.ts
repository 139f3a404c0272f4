import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp, type App } from '../api/app.js';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { seed } from '../db/seed.js';
import { loadConfig } from '../runtime/config.js';
import { openTestDatabase } from './helpers/test-database.js';

// The SCIM 2.0 surface through app.inject, as identity providers call it: Entra ID's and
// Okta's dialects, filters and paging, groups, discovery, and the SCIM error format for
// everything refused (with nothing changed). The effect on approvals and task queues with
// a real worker is test/scim.e2e.test.ts.

const TOKEN = `scim-test-${randomUUID()}-${randomUUID()}`;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

let app: App;
let db: DB;
let temporal: Client;

function config(scimToken?: string) {
  return loadConfig({
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-scim-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `scim-test-${randomUUID()}`,
    REQFLOW_SECRET: 'test-secret-test-secret-test-secret!!',
    PUBLIC_URL: 'https://reqflow.example.com',
    ...(scimToken ? { SCIM_TOKEN: scimToken } : {}),
  });
}

beforeAll(async () => {
  db = await openTestDatabase();
  await seed(db);
  const c = config(TOKEN);
  const connection = await Connection.connect({ address: c.temporal.address });
  temporal = new Client({ connection, namespace: c.temporal.namespace });
  app = await buildApp({ db, temporal, config: c, secret: c.secret! });
});

afterAll(async () => {
  await app?.close();
  await temporal?.connection.close();
});

/** The parts of SCIM documents (resources, lists, errors) these tests read. */
interface ScimDoc {
  [attribute: string]: unknown;
  id: string;
  userName: string;
  active: boolean;
  members: unknown[];
  totalResults: number;
  Resources: ScimDoc[];
  status: string;
  scimType?: string;
  detail: string;
}

interface ScimResponse {
  status: number;
  body: ScimDoc;
  headers: Record<string, unknown>;
}

async function scim(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
  opts: { token?: string | null; contentType?: string; raw?: string; on?: App } = {},
): Promise<ScimResponse> {
  const token = opts.token === undefined ? TOKEN : opts.token;
  const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const res = await (opts.on ?? app).inject({
    method,
    url: `/scim/v2${url}`,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(payload !== undefined ? { 'content-type': opts.contentType ?? 'application/scim+json' } : {}),
    },
    ...(payload !== undefined ? { payload } : {}),
  });
  return { status: res.statusCode, body: (res.body ? res.json() : {}) as ScimDoc, headers: res.headers };
}

function expectScimError(res: ScimResponse, status: number, scimType?: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toContain('application/scim+json');
  expect(res.body).toMatchObject({ schemas: [ERROR], status: String(status) });
  if (scimType) expect(res.body.scimType).toBe(scimType);
  expect(String(res.body.detail).length).toBeGreaterThan(10);
}

const patch = (...Operations: object[]) => ({ schemas: [PATCH_OP], Operations });
const filter = (f: string) => `filter=${encodeURIComponent(f)}`;
const userRow = async (id: string) => (await db.select().from(t.users).where(eq(t.users.id, id)))[0];
const membersOf = async (groupId: string) =>
  (await db.select().from(t.groupMembers).where(eq(t.groupMembers.groupId, groupId)))
    .map((m) => m.userId)
    .sort();
const scimTrail = async (subject: string) =>
  (await db.select().from(t.auditLog).where(eq(t.auditLog.subject, subject)).orderBy(t.auditLog.seq))
    .filter((e) => e.actor === 'scim')
    .map((e) => e.action);
const groupRow = async (id: string) => (await db.select().from(t.groups).where(eq(t.groups.id, id)))[0];

describe('access', () => {
  it('refuses a missing or wrong token with 401 in the SCIM error format', async () => {
    const missing = await scim('GET', '/Users', undefined, { token: null });
    expectScimError(missing, 401);
    expect(missing.headers['www-authenticate']).toContain('Bearer');
    expectScimError(await scim('GET', '/Users', undefined, { token: 'not-the-token' }), 401);
    expectScimError(await scim('POST', '/Users', { userName: 'x@example.com' }, { token: 'nope' }), 401);
    expect(await userRow('x')).toBeUndefined();
  });

  it('answers 404 saying how to turn it on when SCIM_TOKEN is unset', async () => {
    const c = config();
    const off = await buildApp({ db, temporal, config: c, secret: c.secret! });
    try {
      const res = await scim('GET', '/Users', undefined, { on: off });
      expectScimError(res, 404);
      expect(res.body.detail).toContain('SCIM_TOKEN');
    } finally {
      await off.close();
    }
  });

  it('refuses a token shorter than 32 characters at start', () => {
    expect(() => config('short-token')).toThrow(/SCIM_TOKEN must be at least 32 characters/);
  });
});

describe('discovery', () => {
  it('describes what it supports, its resource types and schemas', async () => {
    const spc = await scim('GET', '/ServiceProviderConfig');
    expect(spc.status).toBe(200);
    expect(spc.headers['content-type']).toContain('application/scim+json');
    expect(spc.body).toMatchObject({
      patch: { supported: true },
      filter: { supported: true, maxResults: 200 },
      bulk: { supported: false },
      authenticationSchemes: [expect.objectContaining({ type: 'oauthbearertoken' })],
    });
    const types = await scim('GET', '/ResourceTypes');
    expect(types.body.Resources).toEqual([
      expect.objectContaining({
        id: 'User',
        endpoint: '/Users',
        schemaExtensions: [{ schema: ENTERPRISE, required: false }],
      }),
      expect.objectContaining({ id: 'Group', endpoint: '/Groups' }),
    ]);
    expect((await scim('GET', '/ResourceTypes/Group')).body).toMatchObject({ id: 'Group' });
    const schemas = await scim('GET', '/Schemas');
    expect(schemas.body.Resources.map((s) => s.id)).toEqual(
      expect.arrayContaining([USER_SCHEMA, ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']),
    );
    expect((await scim('GET', `/Schemas/${ENTERPRISE}`)).body).toMatchObject({ id: ENTERPRISE });
    expectScimError(await scim('GET', '/Bulk'), 404);
  });
});

describe('users, the way Entra ID provisions them', () => {
  const frank = {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: 'e5a0c2d4-entra-frank',
    userName: 'Frank.Miller@example.com',
    active: true,
    displayName: 'Frank Miller',
    title: 'Engineer',
    emails: [{ primary: true, type: 'work', value: 'frank.miller@example.com' }],
    name: { formatted: 'Frank Miller', familyName: 'Miller', givenName: 'Frank' },
    [ENTERPRISE]: { department: 'Platform', employeeNumber: '4711', manager: { value: 'bob' } },
  };

  it('matches by userName first, then creates with a readable id, role and manager', async () => {
    const before = await scim('GET', `/Users?${filter('userName eq "Frank.Miller@example.com"')}`);
    expect(before.body).toMatchObject({ totalResults: 0, Resources: [] });

    const created = await scim('POST', '/Users', frank);
    expect(created.status).toBe(201);
    expect(created.headers['content-type']).toContain('application/scim+json');
    expect(created.headers.location).toBe('https://reqflow.example.com/scim/v2/Users/frank.miller');
    expect(created.body).toMatchObject({
      id: 'frank.miller',
      userName: 'Frank.Miller@example.com',
      externalId: 'e5a0c2d4-entra-frank',
      displayName: 'Frank Miller',
      title: 'Engineer',
      active: true,
      emails: [{ value: 'frank.miller@example.com', type: 'work', primary: true }],
      [ENTERPRISE]: { manager: { value: 'bob', displayName: 'Bob Baker' } },
      meta: { resourceType: 'User', location: created.headers.location as string },
    });
    expect(await userRow('frank.miller')).toMatchObject({
      roleId: 'engineer',
      managerId: 'bob',
      active: true,
    });

    // userName compares case-insensitively.
    const found = await scim('GET', `/Users?${filter('userName eq "frank.miller@EXAMPLE.com"')}`);
    expect(found.body).toMatchObject({ totalResults: 1, Resources: [{ id: 'frank.miller' }] });
    const byExternal = await scim('GET', `/Users?${filter('externalId eq "e5a0c2d4-entra-frank"')}`);
    expect(byExternal.body.Resources.map((u) => u.id)).toEqual(['frank.miller']);
    expect((await scim('GET', '/Users/frank.miller')).body).toMatchObject({ id: 'frank.miller' });
  });

  it('applies Entra PATCHes: capitalised ops, a bare manager id, "False" for active', async () => {
    const changed = await scim(
      'PATCH',
      '/Users/frank.miller',
      patch(
        { op: 'Replace', path: 'displayName', value: 'Frank M. Miller' },
        { op: 'Replace', path: 'title', value: 'Engineering Manager' },
        { op: 'Add', path: `${ENTERPRISE}:manager`, value: 'erin' },
      ),
    );
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      displayName: 'Frank M. Miller',
      title: 'Engineering manager',
      [ENTERPRISE]: { manager: { value: 'erin' } },
    });
    expect(await userRow('frank.miller')).toMatchObject({ roleId: 'engineering-manager', managerId: 'erin' });

    const off = await scim(
      'PATCH',
      '/Users/frank.miller',
      patch({ op: 'Replace', path: 'active', value: 'False' }),
    );
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expect((await userRow('frank.miller'))?.active).toBe(false);
    // Sent again (a retry): the same answer, no second change.
    expect(
      (await scim('PATCH', '/Users/frank.miller', patch({ op: 'Replace', path: 'active', value: 'False' })))
        .status,
    ).toBe(200);
    expect(await scimTrail('frank.miller')).toEqual(['user.created', 'user.updated', 'user.deactivated']);
  });
});

describe('users, the way Okta provisions them', () => {
  it('creates over application/json, replaces with PUT, deactivates with a PATCH value object', async () => {
    const body = {
      schemas: [USER_SCHEMA],
      userName: 'gina@example.com',
      name: { givenName: 'Gina', familyName: 'Gomez' },
      emails: [{ primary: true, value: 'gina@example.com', type: 'work' }],
      displayName: 'Gina Gomez',
      locale: 'en-US',
      externalId: '00u1okta-gina',
      groups: [],
      password: 'never-stored-1!',
      active: true,
    };
    const created = await scim('POST', '/Users', body, { contentType: 'application/json' });
    expect(created.status).toBe(201);
    // No title, no roles: the default role, created on first use.
    expect(created.body).toMatchObject({ id: 'gina', title: 'Employee' });
    expect((await userRow('gina'))?.roleId).toBe('employee');

    const replaced = await scim('PUT', '/Users/gina', {
      ...body,
      displayName: 'Gina Gómez',
      roles: [{ value: 'finance-analyst', primary: true }],
      [ENTERPRISE]: { manager: { value: 'carol' } },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ displayName: 'Gina Gómez', title: 'Finance analyst' });
    expect(await userRow('gina')).toMatchObject({ roleId: 'finance-analyst', managerId: 'carol' });

    const off = await scim('PATCH', '/Users/gina', patch({ op: 'replace', value: { active: false } }));
    expect(off.body.active).toBe(false);
    const on = await scim('PATCH', '/Users/gina', patch({ op: 'replace', value: { active: true } }));
    expect(on.body.active).toBe(true);
    expect(await scimTrail('gina')).toEqual([
      'user.created',
      'user.updated',
      'user.deactivated',
      'user.reactivated',
    ]);
  });
});

describe('lists', () => {
  it('pages with startIndex and count, and matches other filters over the list', async () => {
    const all = await scim('GET', '/Users');
    const total = all.body.totalResults;
    expect(total).toBeGreaterThanOrEqual(6);
    const page = await scim('GET', '/Users?startIndex=2&count=2');
    expect(page.body).toMatchObject({ totalResults: total, startIndex: 2, itemsPerPage: 2 });
    expect(page.body.Resources.map((u) => u.id)).toEqual(all.body.Resources.slice(1, 3).map((u) => u.id));
    const starts = await scim('GET', `/Users?${filter('userName sw "a"')}&attributes=userName`);
    expect(starts.body.Resources).toEqual([expect.objectContaining({ id: 'alice', userName: 'alice' })]);
    expect(starts.body.Resources[0]?.emails).toBeUndefined();
    expectScimError(await scim('GET', `/Users?${filter('userName eq "a" and (')}`), 400, 'invalidFilter');
    // SCIMMY throws a bare TypeError on these; they are the client's malformed filters, not a 500.
    for (const malformed of ['userName', '__main__', 'not', 'and'])
      expectScimError(await scim('GET', `/Groups?${filter(malformed)}`), 400, 'invalidFilter');
    expectScimError(await scim('GET', `/Users?${filter('userName')}`), 400, 'invalidFilter');
    expectScimError(await scim('GET', '/Users?count=many'), 400, 'invalidValue');
  });
});

describe('groups', () => {
  it('binds to the reqflow group it names and follows member adds and removes in both dialects', async () => {
    const created = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'Service Desk',
      externalId: 'entra-group-sd',
      members: [{ value: 'dave' }, { value: 'alice' }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: 'service-desk', displayName: 'Service Desk' });
    expect(await membersOf('service-desk')).toEqual(['alice', 'dave']);

    const found = await scim(
      'GET',
      `/Groups?${filter('displayName eq "service desk"')}&excludedAttributes=members`,
    );
    expect(found.body).toMatchObject({ totalResults: 1, Resources: [{ id: 'service-desk' }] });
    expect(found.body.Resources[0]?.members).toBeUndefined();

    // Entra: add and remove with value lists.
    await scim(
      'PATCH',
      '/Groups/service-desk',
      patch({ op: 'Add', path: 'members', value: [{ value: 'carol' }] }),
    );
    await scim(
      'PATCH',
      '/Groups/service-desk',
      patch({ op: 'Remove', path: 'members', value: [{ value: 'dave' }] }),
    );
    expect(await membersOf('service-desk')).toEqual(['alice', 'carol']);
    // Okta: remove by a filtered path.
    const okta = await scim(
      'PATCH',
      '/Groups/service-desk',
      patch({ op: 'remove', path: 'members[value eq "alice"]' }),
    );
    expect(okta.body.members).toEqual([{ value: 'carol', display: 'Carol Chen', type: 'User' }]);
    expect(await scimTrail('service-desk')).toEqual([
      'group.bound',
      'group.member_added',
      'group.member_added',
      'group.member_removed',
      'group.member_removed',
    ]);

    // PATCHes sent at once (Okta assigning several people) each land.
    await Promise.all(
      ['bob', 'erin', 'olga'].map((value) =>
        scim('PATCH', '/Groups/service-desk', patch({ op: 'add', path: 'members', value: [{ value }] })),
      ),
    );
    expect(await membersOf('service-desk')).toEqual(['bob', 'carol', 'erin', 'olga']);
    await Promise.all(
      ['bob', 'erin'].map((value) =>
        scim('PATCH', '/Groups/service-desk', patch({ op: 'remove', path: `members[value eq "${value}"]` })),
      ),
    );
    expect(await membersOf('service-desk')).toEqual(['carol', 'olga']);
    // PUT replaces the members outright.
    await scim('PUT', '/Groups/service-desk', {
      displayName: 'Service Desk',
      externalId: 'entra-group-sd',
      members: [{ value: 'carol' }],
    });
    expect(await membersOf('service-desk')).toEqual(['carol']);

    const finance = await scim('POST', '/Groups', {
      displayName: 'Finance Team',
      members: [{ value: 'carol' }],
    });
    expect(finance.body).toMatchObject({ id: 'finance-team' });
    expect((await groupRow('finance-team'))?.kind).toBe('directory');
    expectScimError(await scim('POST', '/Groups', { displayName: 'service desk' }), 409, 'uniqueness');

    // Released: emptied and unbound, the group itself stays.
    expect((await scim('DELETE', '/Groups/finance-team')).status).toBe(204);
    expect(await membersOf('finance-team')).toEqual([]);
    expectScimError(await scim('GET', '/Groups/finance-team'), 404);
    expect(await groupRow('finance-team')).toBeDefined();
  });
});

describe('bad input', () => {
  /** Everything SCIM may change, and the audit trail. */
  const state = async () => ({
    users: await db.select().from(t.users).orderBy(t.users.id),
    roles: await db.select().from(t.roles).orderBy(t.roles.id),
    groups: await db.select().from(t.groups).orderBy(t.groups.id),
    members: await db.select().from(t.groupMembers).orderBy(t.groupMembers.groupId, t.groupMembers.userId),
    audit: (await db.select().from(t.auditLog)).length,
  });

  it('gets the SCIM error format with 400 or 409 and changes nothing', async () => {
    const before = await state();
    const unknown = await scim('POST', '/Users', { userName: 'hal@example.com', favouriteColour: 'blue' });
    expectScimError(unknown, 400, 'invalidSyntax');
    expect(unknown.body.detail).toContain('favouriteColour');
    const nested = await scim('POST', '/Users', { userName: 'hal@example.com', name: { nickname2: 'H' } });
    expectScimError(nested, 400, 'invalidSyntax');
    expect(nested.body.detail).toContain('name.nickname2');
    expectScimError(
      await scim('POST', '/Users', { userName: 'hal@example.com', active: 'yes' }),
      400,
      'invalidValue',
    );
    expectScimError(await scim('POST', '/Users', { userName: 42 }), 400, 'invalidValue');
    expectScimError(await scim('POST', '/Users', { displayName: 'No userName' }), 400, 'invalidValue');
    expectScimError(await scim('POST', '/Users', { userName: 'ALICE' }), 409, 'uniqueness');
    expectScimError(
      await scim('POST', '/Users', {
        userName: 'hal@example.com',
        [ENTERPRISE]: { manager: { value: 'nobody' } },
      }),
      400,
      'invalidValue',
    );
    expectScimError(await scim('PUT', '/Users/alice', { userName: 'bob' }), 409, 'uniqueness');
    expectScimError(
      await scim('PATCH', '/Users/alice', patch({ op: 'replace', path: 'shoeSize', value: 44 })),
      400,
      'invalidPath',
    );
    expectScimError(await scim('PATCH', '/Users/alice', { Operations: [] }), 400);
    expectScimError(
      await scim('PATCH', '/Groups/cab', patch({ op: 'add', path: 'members', value: [{ value: 'x' }] })),
      404,
    );
    expectScimError(await scim('POST', '/Users', undefined, { raw: '{"userName": ' }), 400, 'invalidSyntax');
    expectScimError(
      await scim('POST', '/Users', undefined, { raw: 'userName=x', contentType: 'text/plain' }),
      400,
    );
    expectScimError(await scim('GET', '/Users/nobody'), 404);
    expectScimError(await scim('DELETE', '/Users/nobody'), 404);
    expect(await state()).toEqual(before);
  });
});

describe('removal', () => {
  it('deactivates and hides a deleted user; the row and its history stay', async () => {
    await scim('POST', '/Users', { userName: 'ivan@example.com', displayName: 'Ivan' });
    expect((await scim('DELETE', '/Users/ivan')).status).toBe(204);
    expectScimError(await scim('GET', '/Users/ivan'), 404);
    expectScimError(
      await scim('PATCH', '/Users/ivan', patch({ op: 'replace', path: 'active', value: true })),
      404,
    );
    const list = await scim('GET', `/Users?${filter('userName eq "ivan@example.com"')}`);
    expect(list.body.totalResults).toBe(0);
    expect(await userRow('ivan')).toMatchObject({ active: false, removedAt: expect.any(String) as unknown });
    expect(await scimTrail('ivan')).toEqual(['user.created', 'user.deactivated', 'user.removed']);
  });
});

describe('OpenAPI', () => {
  it('lists every SCIM route under the scim tag with its statuses and content type', async () => {
    const doc = (await app.inject('/docs/json')).json<{
      paths: Record<
        string,
        Record<
          string,
          {
            tags: string[];
            responses: Record<string, { content?: object }>;
            requestBody?: { content: object };
            parameters?: unknown[];
          }
        >
      >;
    }>();
    const routes = {
      '/scim/v2/Users': {
        get: ['200', '400', '401', '404'],
        post: ['201', '400', '401', '404', '409', '500'],
      },
      '/scim/v2/Users/{id}': {
        get: ['200', '400', '401', '404'],
        put: ['200', '400', '401', '404', '409', '500'],
        patch: ['200', '400', '401', '404', '409', '500'],
        delete: ['204', '401', '404', '500'],
      },
      '/scim/v2/Groups': {
        get: ['200', '400', '401', '404'],
        post: ['201', '400', '401', '404', '409', '500'],
      },
      '/scim/v2/Groups/{id}': {
        get: ['200', '400', '401', '404'],
        put: ['200', '400', '401', '404', '409', '500'],
        patch: ['200', '400', '401', '404', '409', '500'],
        delete: ['204', '401', '404', '500'],
      },
      '/scim/v2/ServiceProviderConfig': { get: ['200', '401', '404'] },
      '/scim/v2/ResourceTypes': { get: ['200', '401', '404'] },
      '/scim/v2/ResourceTypes/{id}': { get: ['200', '401', '404'] },
      '/scim/v2/Schemas': { get: ['200', '401', '404'] },
      '/scim/v2/Schemas/{id}': { get: ['200', '401', '404'] },
    };
    for (const [path, methods] of Object.entries(routes)) {
      for (const [method, statuses] of Object.entries(methods)) {
        const op = doc.paths[path]?.[method];
        expect(op?.tags, `${method} ${path}`).toEqual(['scim']);
        // Besides its own: what every route may answer (limits, load shedding, validation, size).
        const shared = [
          '429',
          '431',
          '503',
          ...(op?.requestBody ? ['413'] : []),
          ...(op?.requestBody || op?.parameters?.length ? ['400'] : []),
        ];
        expect(Object.keys(op?.responses ?? {}).sort(), `${method} ${path}`).toEqual(
          [...new Set([...statuses, ...shared])].sort(),
        );
        for (const [status, response] of Object.entries(op?.responses ?? {}))
          // 431 is answered by Node before any route runs, so in the API's own problem+json.
          if (status !== '204' && status !== '431')
            expect(response.content, `${method} ${path} ${status}`).toHaveProperty(['application/scim+json']);
        if (op?.requestBody)
          expect(Object.keys(op.requestBody.content)).toEqual(['application/scim+json', 'application/json']);
      }
    }
  });
});
