import { and, eq } from 'drizzle-orm';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RequestView } from '../api/schemas/requests.js';
import * as t from '../db/schema.js';
import { DEMO_CATALOG_DIR } from '../db/seed.js';
import { repoRoot } from '../runtime/config.js';
import { awaitingApproval, ended, startStack, type TestStack } from './helpers/stack.js';

// Items that exist only in catalog files (no code, no seed), requested end to end against the
// real stack: software installed by the real agent from a package folder the catalog names,
// and access through its two-level approval chain; then the files change under requests in flight.

let stack: TestStack;
let dir: string;
const tokens: Record<string, string> = {};
const as = (user: string) => tokens[user]!;

const CHAT_APP = `kind: Package
id: chat-app
name: Chat App
folder: packages/chat-app
---
kind: LicensePool
id: chat-app
product: Chat App
seats: 5
---
kind: CatalogItem
id: chat-app
name: Chat App
type: standard_service
category: Software
description: Team chat, installed on your device (pre-approved Standard Change).
aliases: [messaging, im]
changeModel: standard
package: chat-app
licensePool: chat-app
allowedRoles: [engineer]
formFields:
  - { name: deviceId, label: Device, type: device, required: true }
fulfillmentGroup: service-desk
`;

const hrDrive = (approvalPolicy: string) => `kind: SecurityGroup
id: HR-DRIVE-USERS
name: HR drive users
description: Read and write access to the HR share.
---
kind: CatalogItem
id: hr-drive
name: Access to the HR drive
type: access
category: Access
description: The HR department's shared drive (security group HR-DRIVE-USERS).
sensitivity: sensitive
serviceOwner: erin
${approvalPolicy}
securityGroup: HR-DRIVE-USERS
formFields:
  - name: reason
    label: What you need it for
    type: select
    options: [Payroll, Recruiting, Audit]
    required: true
fulfillmentGroup: service-desk
`;
const TWO_LEVELS = 'approvalPolicy:\n  - kind: manager\n  - { kind: group, groupId: cab, quorum: any }';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reqflow-catalog-e2e-'));
  cpSync(DEMO_CATALOG_DIR, dir, { recursive: true });
  const software = join(dir, 'software.yaml');
  writeFileSync(
    software,
    readFileSync(software, 'utf8').replaceAll(
      'folder: ../packages/',
      `folder: ${join(repoRoot, 'packages')}/`,
    ),
  );
  // A deployment package that exists only beside the catalog files.
  const pkg = join(dir, 'packages', 'chat-app');
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, 'manifest.json'), '{ "id": "chat-app", "name": "Chat App", "version": "4.2.0" }\n');
  writeFileSync(join(pkg, 'detect.sh'), '#!/bin/sh\n[ -f "chat-app/VERSION" ]\n');
  writeFileSync(
    join(pkg, 'install.sh'),
    '#!/bin/sh\nset -eu\nmkdir -p chat-app\necho "$PACKAGE_VERSION" > chat-app/VERSION\n',
  );
  writeFileSync(join(pkg, 'uninstall.sh'), '#!/bin/sh\nrm -rf chat-app\n');
  writeFileSync(join(dir, 'chat-app.yaml'), CHAT_APP);
  writeFileSync(join(dir, 'hr-drive.yaml'), hrDrive(TWO_LEVELS));

  stack = await startStack(inject('temporalAddress'), { CATALOG_DIR: dir });
  for (const u of ['alice', 'bob', 'carol', 'erin', 'olga']) tokens[u] = await stack.login(u);
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const reload = () => stack.call('POST', '/api/catalog/reload', { token: as('olga') });
const approve = (user: string, id: string) =>
  stack.call('POST', `/api/requests/${id}/approvals`, { token: as(user), body: { decision: 'approve' } });
const waitingOn = (who: string) => (r: RequestView) => awaitingApproval(r) && r.waitingOn!.who.includes(who);

describe('the catalog as code, end to end', () => {
  it('an operator reloads the files: the new items are in the catalog', async () => {
    const res = await reload();
    expect(res.status).toBe(200);
    const { changes } = res.body as { changes: { kind: string; id: string; op: string }[] };
    expect(changes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'CatalogItem', id: 'chat-app', op: 'added' }),
        expect.objectContaining({ kind: 'Package', id: 'chat-app', op: 'added' }),
        expect.objectContaining({ kind: 'CatalogItem', id: 'hr-drive', op: 'added' }),
      ]),
    );
    expect((await reload()).body).toMatchObject({ changes: [] });
    const found = await stack.call('GET', '/api/catalog?q=messaging', { token: as('alice') });
    expect((found.body as { items: { id: string }[] }).items.map((i) => i.id)).toEqual(['chat-app']);
    const software = await stack.call('GET', '/api/catalog?category=Software', { token: as('alice') });
    expect(software.body).toMatchObject({
      categories: expect.arrayContaining([
        { name: 'Software', count: 3 },
        { name: 'Access', count: 3 },
      ]) as unknown,
    });
    expect((software.body as { items: { id: string }[] }).items.map((i) => i.id).sort()).toEqual([
      'chat-app',
      'photoshop',
      'visio',
    ]);
    const form = await stack.call('GET', '/api/catalog/hr-drive', { token: as('alice') });
    expect(form.body).toMatchObject({
      version: 1,
      formFields: [{ name: 'reason', type: 'select', options: ['Payroll', 'Recruiting', 'Audit'] }],
      approvalPolicy: [{ kind: 'manager' }, { kind: 'group', groupId: 'cab', quorum: 'any' }],
    });
    // Nobody but an operator reloads.
    expect((await stack.call('POST', '/api/catalog/reload', { token: as('alice') })).status).toBe(403);
  });

  it('new software from the files is installed by the real agent', async () => {
    stack.startAgent('LAPTOP-ALICE');
    const posted = await stack.submit(as('alice'), { catalogItemId: 'chat-app', deviceId: 'LAPTOP-ALICE' });
    const done = await stack.waitForRequest(as('alice'), posted.id, ended, 90_000);
    expect(done.status).toBe('fulfilled');
    expect(done.catalogItemVersion).toBe(1);
    const root = join(stack.dataDir, 'devices', 'LAPTOP-ALICE', 'root');
    expect(readFileSync(join(root, 'chat-app', 'VERSION'), 'utf8').trim()).toBe('4.2.0');
    const [seat] = await stack.db
      .select()
      .from(t.licenseAssignments)
      .where(eq(t.licenseAssignments.requestId, posted.id));
    expect(seat).toMatchObject({ poolId: 'chat-app', state: 'assigned' });
  });

  it('a form value outside its options is refused, naming the field', async () => {
    const res = await stack.call('POST', '/api/requests', {
      token: as('alice'),
      body: { catalogItemId: 'hr-drive', fields: { reason: 'Curiosity' } },
    });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({
      detail: expect.stringContaining('"reason"') as string,
      errors: [{ path: 'body/fields/reason' }],
    });
  });

  it('access from the files goes through its two levels; a policy changed meanwhile does not alter it', async () => {
    // The worker is away, so the request has not read its policy yet when the files change.
    await stack.stopWorker();
    const posted = await stack.submit(as('alice'), {
      catalogItemId: 'hr-drive',
      fields: { reason: 'Payroll' },
    });
    expect(posted.catalogItemVersion).toBe(1);
    writeFileSync(
      join(dir, 'hr-drive.yaml'),
      hrDrive('approvalPolicy: []').replace('sensitivity: sensitive\n', ''),
    );
    const changed = await reload();
    expect(changed.body).toMatchObject({
      changes: [{ kind: 'CatalogItem', id: 'hr-drive', op: 'changed' }],
      summary: expect.stringContaining('approvalPolicy:') as string,
    });
    stack.startWorker();

    // Version 1's chain: alice's manager, then the CAB. The restarted worker bundles its
    // workflows first, which takes its time on a loaded machine.
    await stack.waitForRequest(as('alice'), posted.id, waitingOn('bob'), 120_000);
    expect((await approve('bob', posted.id)).status).toBe(200);
    await stack.waitForRequest(as('alice'), posted.id, waitingOn('erin'));
    expect((await approve('erin', posted.id)).status).toBe(200);
    const done = await stack.waitForRequest(as('alice'), posted.id, ended);
    expect(done).toMatchObject({ status: 'fulfilled', catalogItemVersion: 1 });
    expect(done.approvals.map((a) => a.approver)).toEqual(['bob', 'erin']);
    const [member] = await stack.db
      .select()
      .from(t.securityGroupMembers)
      .where(
        and(eq(t.securityGroupMembers.groupId, 'HR-DRIVE-USERS'), eq(t.securityGroupMembers.userId, 'alice')),
      );
    expect(member?.requestId).toBe(posted.id);

    // A request made now is decided by version 2: no approval.
    const later = await stack.submit(as('carol'), { catalogItemId: 'hr-drive', fields: { reason: 'Audit' } });
    const laterDone = await stack.waitForRequest(as('carol'), later.id, ended);
    expect(laterDone).toMatchObject({ status: 'fulfilled', catalogItemVersion: 2 });
    expect(laterDone.approvals.map((a) => [a.kind, a.approver])).toEqual([['standard_change', 'reqflow']]);
    // The request view points at the version it was decided by.
    const v1 = await stack.call('GET', done.links.catalogItem, { token: as('alice') });
    expect(v1.body).toMatchObject({ version: 1, approvalPolicy: [{ kind: 'manager' }, { kind: 'group' }] });
  }, 180_000);

  it('a retired item stays readable on its requests and cannot be requested', async () => {
    const [old] = (
      (await stack.call('GET', '/api/requests', { token: as('alice') })).body as { items: RequestView[] }
    ).items.filter((r) => r.catalogItemId === 'chat-app');
    rmSync(join(dir, 'chat-app.yaml'));
    const res = await reload();
    expect(res.body).toMatchObject({
      changes: expect.arrayContaining([
        { kind: 'CatalogItem', id: 'chat-app', op: 'retired' },
        { kind: 'Package', id: 'chat-app', op: 'retired' },
      ]) as unknown,
    });
    const view = await stack.call('GET', `/api/requests/${old!.id}`, { token: as('alice') });
    expect(view.body).toMatchObject({
      catalogItemId: 'chat-app',
      catalogItemVersion: 1,
      status: 'fulfilled',
    });
    const item = await stack.call('GET', '/api/catalog/chat-app?version=1', { token: as('alice') });
    expect(item.body).toMatchObject({ id: 'chat-app', active: false, version: 1 });
    const again = await stack.call('POST', '/api/requests', {
      token: as('alice'),
      body: { catalogItemId: 'chat-app', deviceId: 'LAPTOP-ALICE' },
    });
    expect(again.status).toBe(422);
    expect(again.body).toMatchObject({ detail: expect.stringContaining('retired') as string });
    const list = await stack.call('GET', '/api/catalog', { token: as('alice') });
    expect((list.body as { items: { id: string }[] }).items.map((i) => i.id)).not.toContain('chat-app');
  });

  it('a bad file is a 422 naming file, line and field, and nothing changes', async () => {
    writeFileSync(join(dir, 'hr-drive.yaml'), hrDrive(TWO_LEVELS).replace('groupId: cab', 'groupId: kab'));
    const before = await stack.db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'hr-drive'));
    const res = await reload();
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const line =
      hrDrive(TWO_LEVELS)
        .split('\n')
        .findIndex((l) => l.includes('groupId: cab')) + 1;
    expect(res.body).toMatchObject({
      errors: [{ path: `hr-drive.yaml:${line} approvalPolicy.1.groupId`, message: 'no group "kab"' }],
    });
    expect(await stack.db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'hr-drive'))).toEqual(
      before,
    );
  });
});
