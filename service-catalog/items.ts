import { and, eq } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

// The catalog's reads that activities and the API make on every request: small, one or two queries.

type ItemRow = typeof t.catalogItems.$inferSelect;

/**
 * The item as a request submitted against `version` sees it: that version's policy, form and
 * SLA, whatever the files say now. Without a version (older requests, items the files never
 * defined) it is the item as it is.
 */
export async function itemAsOrdered(
  db: Pick<DB, 'select'>,
  id: string,
  version: number | null | undefined,
): Promise<ItemRow | undefined> {
  const [live] = await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, id)).limit(1);
  if (!live || !version) return live;
  // A retired item stays orderable for the requests already submitted against it.
  if (version === live.version) return { ...live, active: true };
  const [old] = await db
    .select({ snapshot: t.catalogItemVersions.snapshot })
    .from(t.catalogItemVersions)
    .where(and(eq(t.catalogItemVersions.itemId, id), eq(t.catalogItemVersions.version, version)))
    .limit(1);
  return old ? { ...live, ...(old.snapshot as Partial<ItemRow>), version, active: true } : live;
}

/** The folder of a package the catalog names (manifest and scripts); undefined for one it does not. */
export async function packageFolderOf(db: Pick<DB, 'select'>, id: string): Promise<string | undefined> {
  const [pkg] = await db
    .select({ folder: t.catalogPackages.folder })
    .from(t.catalogPackages)
    .where(and(eq(t.catalogPackages.id, id), eq(t.catalogPackages.active, true)))
    .limit(1);
  return pkg?.folder;
}
