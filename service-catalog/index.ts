import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { appendAuditEntry } from '../audit/log.js';
import type { DB, Tx } from '../db/client.js';
import * as t from '../db/schema.js';
import { serialize, transaction } from '../db/transaction.js';
import { createDirectory } from '../directory/index.js';
import { loadCatalogFiles, type CatalogError, type CatalogFiles } from './load.js';
import { canonical, compare, fieldChanges, itemConfig, type CatalogChange, type ItemConfig } from './plan.js';
import { itemAsOrdered, packageFolderOf } from './items.js';
import { checkReferences, packageFolder } from './references.js';

export { itemAsOrdered, packageFolderOf } from './items.js';

export { formatError, type CatalogError } from './load.js';
export { formatChanges, type CatalogChange } from './plan.js';

export interface CatalogDeps {
  db: DB;
  /** The catalog folder (CATALOG_DIR). */
  dir: string;
  now?: () => Date;
}

/** What check, diff and apply answer: the file errors (then nothing was applied), else the changes. */
export interface CatalogResult {
  errors: CatalogError[];
  changes: CatalogChange[];
}

type ItemRow = typeof t.catalogItems.$inferSelect;

/** The actor of a change the stack or a schedule made rather than a person. */
export const CATALOG_SYNC_ACTOR = 'catalog-sync';

/**
 * People, roles and groups the directory knows. A person it deactivated or removed still counts:
 * the directory changes on its own schedule, and approvals already skip people who cannot decide.
 */
async function knownElsewhere(db: DB | Tx) {
  const ids = (rows: { id: string }[]) => new Set(rows.map((r) => r.id));
  return {
    users: ids(await db.select({ id: t.users.id }).from(t.users)),
    roles: ids(await db.select({ id: t.roles.id }).from(t.roles)),
    groups: ids(await db.select({ id: t.groups.id }).from(t.groups)),
  };
}

const byId = <R extends { id: string }>(rows: R[]) =>
  new Map<string, Record<string, unknown>>(rows.map((r) => [r.id, r as Record<string, unknown>]));

/** Wanted rows per kind, and what differs from the database. */
async function plan(db: DB | Tx, files: CatalogFiles, dir: string) {
  const items = files.items.map((l) => ({
    located: l,
    id: l.doc.id,
    row: { ...itemConfig(l.doc), active: true },
  }));
  const packages = files.packages.map((l) => ({
    located: l,
    id: l.doc.id,
    row: { id: l.doc.id, name: l.doc.name, folder: packageFolder(dir, l), active: true },
  }));
  const pools = files.licensePools.map((l) => ({
    located: l,
    id: l.doc.id,
    row: { id: l.doc.id, product: l.doc.product, totalSeats: l.doc.seats },
  }));
  const securityGroups = files.securityGroups.map((l) => ({
    located: l,
    id: l.doc.id,
    row: { id: l.doc.id, name: l.doc.name, description: l.doc.description },
  }));
  const services = files.services.map((l) => ({
    located: l,
    id: l.doc.id,
    row: { id: l.doc.id, name: l.doc.name, aliases: (l.doc.aliases ?? []).join(' '), ownerId: l.doc.owner },
  }));
  // The directory owns groups and their members; the catalog only makes sure its groups exist.
  const fulfillmentGroups = files.fulfillmentGroups.map((l) => ({ located: l, id: l.doc.id, row: {} }));
  const articles = files.articles.map((l) => ({
    located: l,
    id: l.doc.id,
    row: { id: l.doc.id, title: l.doc.title, body: l.doc.body, tags: l.doc.tags.join(' ') },
  }));

  const currentItems = await db.select().from(t.catalogItems);
  const currentPackages = await db.select().from(t.catalogPackages);
  const inFiles = new Set(items.map((i) => i.id));
  const packageIds = new Set(packages.map((p) => p.id));
  const changes: CatalogChange[] = [
    ...compare('FulfillmentGroup', fulfillmentGroups, byId(await db.select().from(t.groups))),
    ...compare('SecurityGroup', securityGroups, byId(await db.select().from(t.securityGroups))),
    ...compare('LicensePool', pools, byId(await db.select().from(t.licensePools))),
    ...compare('Service', services, byId(await db.select().from(t.services))),
    ...compare('Package', packages, byId(currentPackages)),
    ...currentPackages
      .filter((p) => p.active && !packageIds.has(p.id))
      .map((p) => ({ kind: 'Package' as const, id: p.id, op: 'retired' as const })),
    ...compare('CatalogItem', items, byId(currentItems)),
    // An item from before the catalog files gets its first version even when nothing else differs.
    ...items
      .filter((w) => {
        const now = currentItems.find((i) => i.id === w.id);
        return now?.version === 0 && fieldChanges(now, w.row).length === 0;
      })
      .map((w) => ({
        kind: 'CatalogItem' as const,
        id: w.id,
        op: 'changed' as const,
        file: `${w.located.file}:${w.located.line}`,
        fields: [{ field: 'version', from: 0, to: 1 }],
      })),
    // Only what the files once defined is retired when it leaves them; rows added another way stay.
    ...currentItems
      .filter((i) => i.source !== null && i.active && !inFiles.has(i.id))
      .map((i) => ({ kind: 'CatalogItem' as const, id: i.id, op: 'retired' as const })),
    ...compare('KnowledgeArticle', articles, byId(await db.select().from(t.knowledgeArticles))),
  ];
  return {
    changes,
    items,
    packages,
    pools,
    securityGroups,
    services,
    fulfillmentGroups,
    articles,
    currentItems,
  };
}

/** Reads and checks the files; `errors` is empty when they may be applied. */
async function readChecked(
  db: DB | Tx,
  dir: string,
): Promise<{ files: CatalogFiles; errors: CatalogError[] }> {
  const { files, errors } = loadCatalogFiles(dir);
  if (errors.length > 0) return { files, errors };
  return { files, errors: checkReferences(files, await knownElsewhere(db), dir) };
}

/**
 * The catalog aggregate: the service catalog as the files in CATALOG_DIR define it. It alone
 * writes catalog items and their versions, packages, licence pools, security groups, services
 * and knowledge articles; fulfillment groups it asks the directory to create.
 */
export function createCatalog(deps: CatalogDeps) {
  const { db, dir } = deps;
  const snapshotOf = (row: ItemConfig) => JSON.parse(canonical(row)) as Record<string, unknown>;

  return {
    /** Validates the files (schemas and references) without changing anything. */
    async check(): Promise<CatalogError[]> {
      return (await readChecked(db, dir)).errors;
    },

    /** What `apply` would change now; nothing when the files have errors. */
    async diff(): Promise<CatalogResult> {
      const { files, errors } = await readChecked(db, dir);
      if (errors.length > 0) return { errors, changes: [] };
      return { errors: [], changes: (await plan(db, files, dir)).changes };
    },

    /**
     * Checks, then applies everything in one transaction with an audit entry per change.
     * A second apply of the same files changes nothing. Items that left the files are
     * retired (`active: false`), never deleted: requests keep pointing at them.
     */
    async apply(actor: string): Promise<CatalogResult> {
      const at = (deps.now?.() ?? new Date()).toISOString();
      // The files are read before the transaction: its body waits only on the database.
      const { files, errors } = loadCatalogFiles(dir);
      if (errors.length > 0) return { errors, changes: [] };
      const directory = createDirectory({ db, now: () => new Date(at) });
      return transaction(db, async (tx) => {
        // Audited: the audit chain's lock first, so every writer takes its locks in one order.
        await serialize(tx, 'audit_log');
        const referenceErrors = checkReferences(files, await knownElsewhere(tx), dir);
        if (referenceErrors.length > 0) return { errors: referenceErrors, changes: [] };
        const p = await plan(tx, files, dir);
        const changed = (kind: CatalogChange['kind'], id: string) =>
          p.changes.some((c) => c.kind === kind && c.id === id && c.op !== 'retired');

        // The directory's change joins this transaction: a group commits with the catalog or not at all.
        for (const g of p.fulfillmentGroups) {
          await directory.ensureGroup({ id: g.id, name: g.located.doc.name, kind: 'fulfillment' }, actor);
        }
        const upsert = async (
          table:
            | typeof t.securityGroups
            | typeof t.licensePools
            | typeof t.services
            | typeof t.catalogPackages
            | typeof t.knowledgeArticles,
          rows: { id: string; row: Record<string, unknown> }[],
          kind: CatalogChange['kind'],
        ) => {
          for (const r of rows.filter((r) => changed(kind, r.id))) {
            // Each row was built for its table just above; the union of tables loses that pairing.
            const row = r.row as never;
            await tx.insert(table).values(row).onConflictDoUpdate({ target: table.id, set: row });
          }
        };
        await upsert(t.securityGroups, p.securityGroups, 'SecurityGroup');
        await upsert(t.licensePools, p.pools, 'LicensePool');
        await upsert(t.services, p.services, 'Service');
        await upsert(t.catalogPackages, p.packages, 'Package');
        await upsert(
          t.knowledgeArticles,
          p.articles.map((a) => ({ ...a, row: { ...a.row, updatedAt: at } })),
          'KnowledgeArticle',
        );

        const current = new Map<string, ItemRow>(p.currentItems.map((i) => [i.id, i]));
        // Parts before bundles is not needed (no foreign key between them); files order is kept.
        for (const w of p.items) {
          const now = current.get(w.id);
          const source = w.located.file;
          if (!changed('CatalogItem', w.id)) {
            if (now && now.source !== source) {
              await tx.update(t.catalogItems).set({ source }).where(eq(t.catalogItems.id, w.id));
            }
            continue;
          }
          const version = (now?.version ?? 0) + 1;
          const { active: _active, ...config } = w.row;
          await tx
            .insert(t.catalogItems)
            .values({ ...w.row, version, source })
            .onConflictDoUpdate({ target: t.catalogItems.id, set: { ...w.row, version, source } });
          await tx.insert(t.catalogItemVersions).values({
            itemId: w.id,
            version,
            snapshot: snapshotOf(config),
            appliedBy: actor,
            appliedAt: at,
          });
        }
        for (const c of p.changes.filter((c) => c.op === 'retired')) {
          if (c.kind === 'CatalogItem') {
            await tx.update(t.catalogItems).set({ active: false }).where(eq(t.catalogItems.id, c.id));
          } else if (c.kind === 'Package') {
            await tx.update(t.catalogPackages).set({ active: false }).where(eq(t.catalogPackages.id, c.id));
          }
        }
        for (const c of p.changes) {
          await appendAuditEntry(tx, at, {
            key: `catalog:${c.kind}:${c.id}:${c.op}:${randomUUID()}`,
            actor,
            action: `catalog.${c.kind}.${c.op}`,
            subject: c.id,
            details: {
              ...(c.file ? { file: c.file } : {}),
              ...(c.fields
                ? { fields: Object.fromEntries(c.fields.map((f) => [f.field, { from: f.from, to: f.to }])) }
                : {}),
            },
          });
        }
        return { errors: [], changes: p.changes };
      });
    },

    /** Orderable items, optionally in one category and matching every word of `q` (name, description, aliases, category). */
    async listItems(filter: { q?: string; category?: string } = {}): Promise<ItemRow[]> {
      const words = (filter.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const items = await db
        .select()
        .from(t.catalogItems)
        .where(eq(t.catalogItems.active, true))
        .orderBy(t.catalogItems.category, t.catalogItems.name);
      return items
        .filter((i) => !filter.category || i.category === filter.category)
        .filter((i) => {
          const text = [i.name, i.description, i.category, ...(i.aliases ?? [])].join(' ').toLowerCase();
          return words.every((w) => text.includes(w));
        });
    },

    /** An item, retired or not. */
    async getItem(id: string): Promise<ItemRow | undefined> {
      const [item] = await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, id)).limit(1);
      return item;
    },

    /**
     * The item as a request submitted against `version` sees it: that version's policy, form and
     * SLA, whatever the files say now. Without a version (older requests, items the files never
     * defined) it is the item as it is.
     */
    async itemAsOrdered(id: string, version: number | null | undefined): Promise<ItemRow | undefined> {
      return itemAsOrdered(db, id, version);
    },

    /** Where a package the catalog names keeps its manifest and scripts. */
    async packageFolder(id: string): Promise<string | undefined> {
      return packageFolderOf(db, id);
    },
  };
}

export type Catalog = ReturnType<typeof createCatalog>;
