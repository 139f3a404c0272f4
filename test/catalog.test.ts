import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, like } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeDatabase, type DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { DEMO_CATALOG_DIR, seedOrganisation } from '../db/seed.js';
import { searchKnowledge } from '../knowledge/search.js';
import { repoRoot } from '../runtime/config.js';
import { createCatalog, formatChanges, itemAsOrdered, type CatalogError } from '../service-catalog/index.js';
import { openTestDatabase } from './helpers/test-database.js';

// The catalog as code against a real, migrated database (SQLite or PostgreSQL): a copy of the demo catalog
// in a temporary folder is edited the way a service desk edits it in a pull request.

let db: DB;
let dir: string;

beforeEach(async () => {
  db = await openTestDatabase();
  await seedOrganisation(db);
  dir = mkdtempSync(join(tmpdir(), 'reqflow-catalog-'));
  cpSync(DEMO_CATALOG_DIR, dir, { recursive: true });
  // The copy is elsewhere: point its packages at the checkout's package folders.
  edit('software.yaml', (s) =>
    s.replaceAll('folder: ../packages/', `folder: ${join(repoRoot, 'packages')}/`),
  );
});

afterEach(async () => {
  await closeDatabase(db);
  rmSync(dir, { recursive: true, force: true });
});

function edit(file: string, change: (text: string) => string): void {
  const path = join(dir, file);
  writeFileSync(path, change(readFileSync(path, 'utf8')));
}

/** The 1-based line of the first line of `file` containing `text`. */
function lineOf(file: string, text: string): number {
  const n = readFileSync(join(dir, file), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text));
  if (n < 0) throw new Error(`"${text}" is not in ${file}`);
  return n + 1;
}

/** Rows in an order of their own: PostgreSQL returns them in no particular order. */
const inOrder = (rows: object[]) => rows.map((row) => JSON.stringify(row)).sort();

/** Everything the catalog writes, to show that a refused apply changed nothing. */
async function catalogState(): Promise<string> {
  return JSON.stringify([
    inOrder(await db.select().from(t.catalogItems)),
    inOrder(await db.select().from(t.catalogItemVersions)),
    inOrder(await db.select().from(t.catalogPackages)),
    inOrder(await db.select().from(t.licensePools)),
    inOrder(await db.select().from(t.securityGroups)),
    inOrder(await db.select().from(t.services)),
    inOrder(await db.select().from(t.knowledgeArticles)),
    (await db.select().from(t.auditLog)).length,
  ]);
}

const catalog = () => createCatalog({ db, dir });

async function appliedCatalog() {
  const first = await catalog().apply('catalog-sync');
  expect(first.errors).toEqual([]);
  return first;
}

async function expectRefused(expected: Partial<CatalogError>) {
  const before = await catalogState();
  const result = await catalog().apply('catalog-sync');
  expect(result.changes).toEqual([]);
  expect(result.errors).toContainEqual(expect.objectContaining(expected));
  expect(await catalogState()).toBe(before);
  return result.errors;
}

describe('catalog apply', () => {
  it('applies the demo catalog, audits each change, and a second apply changes nothing', async () => {
    const first = await appliedCatalog();
    expect(first.changes.length).toBeGreaterThan(20);
    expect(first.changes.filter((c) => c.op !== 'added')).toEqual([]);
    const visio = (await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'visio')).limit(1))[0]!;
    expect(visio).toMatchObject({
      version: 1,
      source: 'software.yaml',
      licensePoolId: 'visio',
      active: true,
    });
    expect(
      (await db.select().from(t.licensePools).where(eq(t.licensePools.id, 'visio')).limit(1))[0]?.totalSeats,
    ).toBe(3);
    const audited = await db.select().from(t.auditLog).where(like(t.auditLog.action, 'catalog.%'));
    expect(audited).toHaveLength(first.changes.length);
    expect(new Set(audited.map((a) => a.actor))).toEqual(new Set(['catalog-sync']));

    const before = await catalogState();
    const second = await catalog().apply('catalog-sync');
    expect(second).toEqual({ errors: [], changes: [] });
    expect(await catalogState()).toBe(before);
  });

  it('keeps knowledge articles in the search index', async () => {
    await appliedCatalog();
    expect((await searchKnowledge(db, 'VPN server address'))[0]?.id).toBe('KB-VPN-ADDRESS');
    edit('knowledge/vpn-address.md', (s) =>
      s.replace('GlobalProtect client', 'GlobalProtect client (or Zephyrlink)'),
    );
    const { changes } = await catalog().apply('olga');
    expect(changes).toEqual([
      expect.objectContaining({ kind: 'KnowledgeArticle', id: 'KB-VPN-ADDRESS', op: 'changed' }),
    ]);
    expect((await searchKnowledge(db, 'zephyrlink'))[0]?.id).toBe('KB-VPN-ADDRESS');
  });

  it('diff prints a changed field with its old and new value, and apply makes a new version', async () => {
    await appliedCatalog();
    edit('access.yaml', (s) =>
      s.replace(
        'approvalPolicy:\n  - kind: manager\nsecurityGroup: FIN-REPORTING-READERS',
        'approvalPolicy:\n  - kind: manager\n  - kind: owner\nsecurityGroup: FIN-REPORTING-READERS',
      ),
    );
    const { changes } = await catalog().diff();
    expect(formatChanges(changes)).toBe(
      [
        `~ CatalogItem financial-reporting changed (access.yaml:${lineOf('access.yaml', 'id: financial-reporting') - 1})`,
        '    approvalPolicy: [{"kind":"manager"}] -> [{"kind":"manager"},{"kind":"owner"}]',
        '0 added, 1 changed, 0 retired.',
      ].join('\n'),
    );
    // diff changed nothing; apply does, with the operator as the actor.
    expect(
      (await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'financial-reporting')).limit(1))[0]
        ?.version,
    ).toBe(1);
    await catalog().apply('olga');
    const item = (
      await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'financial-reporting')).limit(1)
    )[0]!;
    expect(item.version).toBe(2);
    expect(item.approvalPolicy).toEqual([{ kind: 'manager' }, { kind: 'owner' }]);
    // Version 1 is kept as it was: a request submitted against it still sees one level.
    expect((await itemAsOrdered(db, 'financial-reporting', 1))?.approvalPolicy).toEqual([
      { kind: 'manager' },
    ]);
    const entry = (
      await db.select().from(t.auditLog).where(eq(t.auditLog.action, 'catalog.CatalogItem.changed')).limit(1)
    )[0]!;
    expect(entry.actor).toBe('olga');
    expect(entry.details).toMatchObject({
      fields: { approvalPolicy: { to: [{ kind: 'manager' }, { kind: 'owner' }] } },
    });
  });

  it('retires an item that left the files, and keeps it readable', async () => {
    await appliedCatalog();
    edit('hardware.yaml', (s) => s.replace(/---\nkind: CatalogItem\nid: new-starter-kit[\s\S]*$/, ''));
    const { changes } = await catalog().apply('catalog-sync');
    expect(changes).toEqual([{ kind: 'CatalogItem', id: 'new-starter-kit', op: 'retired' }]);
    const kit = (
      await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'new-starter-kit')).limit(1)
    )[0]!;
    expect(kit).toMatchObject({ active: false, version: 1, name: 'New starter kit' });
    expect((await catalog().listItems()).map((i) => i.id)).not.toContain('new-starter-kit');
    // A request submitted against version 1 still reads it.
    expect(await itemAsOrdered(db, 'new-starter-kit', 1)).toMatchObject({ active: true, bundle: kit.bundle });
    // Back in the files, it is active again as a new version.
    cpSync(join(DEMO_CATALOG_DIR, 'hardware.yaml'), join(dir, 'hardware.yaml'));
    const back = await catalog().apply('catalog-sync');
    expect(back.changes).toEqual([expect.objectContaining({ id: 'new-starter-kit', op: 'changed' })]);
    expect(
      (await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, 'new-starter-kit')).limit(1))[0],
    ).toMatchObject({
      active: true,
      version: 2,
    });
  });

  it('asks the directory for a new fulfillment group, in the same transaction', async () => {
    await appliedCatalog();
    edit('groups.yaml', (s) => `${s}---\nkind: FulfillmentGroup\nid: facilities\nname: Facilities\n`);
    edit('hardware.yaml', (s) => s.replace('fulfillmentGroup: procurement', 'fulfillmentGroup: facilities'));
    const { changes } = await catalog().apply('olga');
    expect(changes.map((c) => `${c.kind} ${c.id} ${c.op}`)).toEqual([
      'FulfillmentGroup facilities added',
      'CatalogItem second-monitor changed',
    ]);
    expect((await db.select().from(t.groups).where(eq(t.groups.id, 'facilities')).limit(1))[0]).toMatchObject(
      {
        name: 'Facilities',
        kind: 'fulfillment',
      },
    );
    const created = await db
      .select()
      .from(t.auditLog)
      .where(eq(t.auditLog.action, 'group.created'))
      .orderBy(t.auditLog.seq);
    expect(created.at(-1)).toMatchObject({ actor: 'olga', subject: 'facilities' });
    expect((await catalog().diff()).changes).toEqual([]);
  });

  it('never retires an item the files did not define', async () => {
    await appliedCatalog();
    await db
      .insert(t.catalogItems)
      .values({ id: 'hand-made', name: 'Hand made', type: 'information', description: 'inserted directly' });
    expect((await catalog().diff()).changes).toEqual([]);
  });
});

describe('a bad catalog names file, line and field, and changes nothing', () => {
  beforeEach(appliedCatalog);

  it('a broken reference', async () => {
    edit('software.yaml', (s) => s.replace('licensePool: photoshop', 'licensePool: photoshopp'));
    await expectRefused({
      file: 'software.yaml',
      line: lineOf('software.yaml', 'licensePool: photoshopp'),
      field: 'licensePool',
      message: 'no LicensePool "photoshopp"',
    });
  });

  it('a group in an approval policy that does not exist', async () => {
    edit('software.yaml', (s) => s.replace('groupId: cab', 'groupId: cabb'));
    await expectRefused({
      file: 'software.yaml',
      line: lineOf('software.yaml', 'groupId: cabb'),
      field: 'approvalPolicy.0.groupId',
    });
  });

  it('a wrong type', async () => {
    edit('software.yaml', (s) => s.replace('seats: 3', 'seats: three'));
    await expectRefused({
      file: 'software.yaml',
      line: lineOf('software.yaml', 'seats: three'),
      field: 'seats',
      message: 'must be integer',
    });
  });

  it('an unknown field and a missing one', async () => {
    edit('access.yaml', (s) => s.replace('name: VPN access\n', 'title: VPN access\n'));
    const errors = await expectRefused({
      file: 'access.yaml',
      line: lineOf('access.yaml', 'title: VPN access'),
      field: 'title',
      message: 'is not a known field',
    });
    expect(errors).toContainEqual(
      expect.objectContaining({
        file: 'access.yaml',
        field: '',
        message: expect.stringContaining('name') as string,
      }),
    );
  });

  it('a duplicate id', async () => {
    writeFileSync(
      join(dir, 'visio-again.yaml'),
      '# a second Visio\nkind: CatalogItem\nid: visio\nname: Visio again\ntype: information\ncategory: Software\ndescription: twice\n',
    );
    await expectRefused({
      file: 'visio-again.yaml',
      line: 3,
      field: 'id',
      message: `duplicate CatalogItem id "visio" (first defined at software.yaml:${lineOf('software.yaml', 'kind: CatalogItem')})`,
    });
  });

  it('a YAML syntax error', async () => {
    edit('hardware.yaml', (s) =>
      s.replace('name: Second monitor\n', 'name: Second monitor\nname: Monitor\n'),
    );
    await expectRefused({
      file: 'hardware.yaml',
      line: lineOf('hardware.yaml', 'name: Monitor'),
      message: 'Map keys must be unique',
    });
  });

  it('an unknown kind and a knowledge article without front matter', async () => {
    edit('groups.yaml', (s) => s.replace('kind: FulfillmentGroup', 'kind: FulfilmentGroup'));
    writeFileSync(join(dir, 'knowledge', 'loose.md'), 'Just text, no front matter.\n');
    const errors = await expectRefused({ file: 'groups.yaml', line: 1, field: 'kind' });
    expect(errors).toContainEqual(expect.objectContaining({ file: 'knowledge/loose.md', line: 1 }));
  });

  it('software without a package, a select without options', async () => {
    edit('software.yaml', (s) => s.replace('package: visio\n', ''));
    edit('services.yaml', (s) =>
      s.replace('type: textarea\n    required: false', 'type: select\n    required: false'),
    );
    const errors = await expectRefused({ file: 'software.yaml', field: 'package' });
    expect(errors).toContainEqual(
      expect.objectContaining({ file: 'services.yaml', field: 'formFields.0.options' }),
    );
  });
});
