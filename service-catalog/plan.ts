import type * as t from '../db/schema.js';
import type { CatalogFiles, Located } from './load.js';
import type { CatalogItemDoc } from './schemas.js';

type ItemRow = typeof t.catalogItems.$inferSelect;

/** The columns of an item the catalog files decide (everything but active, version and source). */
export type ItemConfig = Omit<ItemRow, 'active' | 'version' | 'source'>;

export const CHANGE_KINDS = [
  'CatalogItem',
  'Package',
  'LicensePool',
  'SecurityGroup',
  'Service',
  'FulfillmentGroup',
  'KnowledgeArticle',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

/** One thing an apply changes, as `diff` prints it and the audit trail records it. */
export interface CatalogChange {
  kind: ChangeKind;
  id: string;
  op: 'added' | 'changed' | 'retired';
  /** Where the files define it (added, changed). */
  file?: string;
  /** Field by field, for a change. */
  fields?: FieldChange[];
}

/** JSON with sorted keys: two values that mean the same compare equal whatever order they were written in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export function itemConfig(doc: CatalogItemDoc): ItemConfig {
  return {
    id: doc.id,
    name: doc.name,
    type: doc.type,
    description: doc.description,
    category: doc.category,
    aliases: doc.aliases ?? null,
    sensitivity: doc.sensitivity ?? 'normal',
    changeModel: doc.changeModel ?? null,
    packageId: doc.package ?? null,
    licensePoolId: doc.licensePool ?? null,
    allowedRoles: doc.allowedRoles ?? null,
    securityGroup: doc.securityGroup ?? null,
    approvalPolicy: doc.approvalPolicy ?? null,
    serviceOwnerId: doc.serviceOwner ?? null,
    fulfillmentGroupId: doc.fulfillmentGroup ?? null,
    launchUrl: doc.launchUrl ?? null,
    sla: doc.sla ?? null,
    bundle:
      doc.bundle?.map((p) => ({ catalogItemId: p.item, ...(p.fields ? { fields: p.fields } : {}) })) ?? null,
    unitCostCents: doc.unitCostCents ?? null,
    formFields: doc.formFields ?? [],
    fulfillmentTarget: doc.fulfillmentTarget ?? null,
    accessDuration: doc.accessDuration ?? null,
    revokeOnLeave: doc.revokeOnLeave ?? false,
    renewalApprovalPolicy: doc.renewalApprovalPolicy ?? null,
  };
}

/** The fields whose values differ, in the order of `wanted`. */
export function fieldChanges(
  current: Record<string, unknown>,
  wanted: Record<string, unknown>,
): FieldChange[] {
  return Object.keys(wanted)
    .filter((k) => canonical(current[k] ?? null) !== canonical(wanted[k] ?? null))
    .map((field) => ({ field, from: current[field] ?? null, to: wanted[field] ?? null }));
}

/** Compares one kind's rows in the files with those in the database. */
export function compare<W extends Record<string, unknown>>(
  kind: ChangeKind,
  wanted: { located: Located<unknown>; id: string; row: W }[],
  current: Map<string, Record<string, unknown>>,
): CatalogChange[] {
  const out: CatalogChange[] = [];
  for (const w of wanted) {
    const now = current.get(w.id);
    if (!now) {
      out.push({ kind, id: w.id, op: 'added', file: `${w.located.file}:${w.located.line}` });
      continue;
    }
    const fields = fieldChanges(now, w.row);
    if (fields.length > 0)
      out.push({ kind, id: w.id, op: 'changed', file: `${w.located.file}:${w.located.line}`, fields });
  }
  return out;
}

const show = (v: unknown) => (v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : canonical(v));

/** `npm run catalog -- diff`: one line per change, a changed field's old and new value under it. */
export function formatChanges(changes: CatalogChange[]): string {
  if (changes.length === 0) return 'The catalog is up to date: nothing to change.';
  const lines: string[] = [];
  for (const c of changes) {
    const mark = c.op === 'added' ? '+' : c.op === 'changed' ? '~' : '-';
    lines.push(`${mark} ${c.kind} ${c.id} ${c.op}${c.file ? ` (${c.file})` : ''}`);
    for (const f of c.fields ?? []) lines.push(`    ${f.field}: ${show(f.from)} -> ${show(f.to)}`);
  }
  const count = (op: CatalogChange['op']) => changes.filter((c) => c.op === op).length;
  lines.push(`${count('added')} added, ${count('changed')} changed, ${count('retired')} retired.`);
  return lines.join('\n');
}

export type { CatalogFiles };
