import { durationMs } from '../domain/access.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CatalogError, CatalogFiles, Located } from './load.js';

/** What the catalog may name that lives elsewhere: people, roles and groups are the directory's. */
export interface KnownElsewhere {
  users: ReadonlySet<string>;
  roles: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

/** Where a Package document's folder is on disk. */
export function packageFolder(catalogDir: string, p: Located<{ folder: string }>): string {
  return resolve(dirname(join(catalogDir, p.file)), p.doc.folder);
}

/**
 * The checks no single document can make: ids unique per kind, and every reference (a
 * package, a pool, a group, a bundle part, a person, a role) pointing at something that exists.
 */
export function checkReferences(
  files: CatalogFiles,
  known: KnownElsewhere,
  catalogDir: string,
): CatalogError[] {
  const errors: CatalogError[] = [];
  const err = (l: Located<unknown>, field: string, message: string) =>
    errors.push({ file: l.file, line: l.lineOf(field), field, message });

  const ids = <T extends { id: string }>(what: string, list: Located<T>[]) => {
    const seen = new Map<string, Located<T>>();
    for (const l of list) {
      const first = seen.get(l.doc.id);
      if (first)
        err(l, 'id', `duplicate ${what} id "${l.doc.id}" (first defined at ${first.file}:${first.line})`);
      else seen.set(l.doc.id, l);
    }
    return seen;
  };
  const items = ids('CatalogItem', files.items);
  const packages = ids('Package', files.packages);
  const pools = ids('LicensePool', files.licensePools);
  const securityGroups = ids('SecurityGroup', files.securityGroups);
  ids('Service', files.services);
  const fulfillmentGroups = ids('FulfillmentGroup', files.fulfillmentGroups);
  ids('KnowledgeArticle', files.articles);
  const isGroup = (id: string) => fulfillmentGroups.has(id) || known.groups.has(id);

  for (const p of files.packages) {
    const folder = packageFolder(catalogDir, p);
    const manifest = join(folder, 'manifest.json');
    if (!existsSync(manifest)) {
      err(p, 'folder', `no deployment package at ${folder} (manifest.json missing)`);
      continue;
    }
    try {
      const id = (JSON.parse(readFileSync(manifest, 'utf8')) as { id?: unknown }).id;
      if (id !== p.doc.id) err(p, 'folder', `${manifest} has id ${JSON.stringify(id)}, not "${p.doc.id}"`);
    } catch (e) {
      err(p, 'folder', `${manifest} is not valid JSON (${(e as Error).message})`);
    }
  }
  for (const s of files.services) {
    if (!known.users.has(s.doc.owner)) err(s, 'owner', `unknown user "${s.doc.owner}"`);
  }

  for (const l of files.items) {
    const i = l.doc;
    if (i.package && !packages.has(i.package)) err(l, 'package', `no Package "${i.package}"`);
    if (i.licensePool && !pools.has(i.licensePool))
      err(l, 'licensePool', `no LicensePool "${i.licensePool}"`);
    if (i.securityGroup && !securityGroups.has(i.securityGroup)) {
      err(l, 'securityGroup', `no SecurityGroup "${i.securityGroup}"`);
    }
    if (i.fulfillmentGroup && !isGroup(i.fulfillmentGroup)) {
      err(l, 'fulfillmentGroup', `no FulfillmentGroup "${i.fulfillmentGroup}"`);
    }
    if (i.serviceOwner && !known.users.has(i.serviceOwner)) {
      err(l, 'serviceOwner', `unknown user "${i.serviceOwner}"`);
    }
    (i.allowedRoles ?? []).forEach((r, n) => {
      if (!known.roles.has(r)) err(l, `allowedRoles.${n}`, `unknown role "${r}"`);
    });
    (i.approvalPolicy ?? []).forEach((level, n) => {
      if (level.kind === 'group' && !isGroup(level.groupId)) {
        err(l, `approvalPolicy.${n}.groupId`, `no group "${level.groupId}"`);
      }
      if (level.kind === 'owner' && !i.serviceOwner) {
        err(l, `approvalPolicy.${n}.kind`, 'an owner level needs the item to name its serviceOwner');
      }
    });
    (i.bundle ?? []).forEach((part, n) => {
      const target = items.get(part.item);
      if (!target) err(l, `bundle.${n}.item`, `no CatalogItem "${part.item}"`);
      else if (target.doc.bundle) err(l, `bundle.${n}.item`, `"${part.item}" is itself a bundle`);
    });
    if (!i.bundle && i.type === 'standard_service' && !i.package) {
      err(l, 'package', 'software (standard_service) names the Package it installs');
    }
    if (!i.bundle && i.type === 'access' && !i.securityGroup) {
      err(l, 'securityGroup', 'an access item names the SecurityGroup it grants');
    }
    for (const f of ['accessDuration', 'revokeOnLeave', 'renewalApprovalPolicy'] as const) {
      if (i[f] !== undefined && i.type !== 'access') err(l, f, 'only an access item has this');
    }
    const d = i.accessDuration;
    if (d && !d.choices && !d.untilDate && !d.maxDuration) {
      err(l, 'accessDuration', 'offer choices, untilDate or a maxDuration');
    }
    (d?.choices ?? []).forEach((c, n) => {
      if (d?.maxDuration && durationMs(c) > durationMs(d.maxDuration)) {
        err(l, `accessDuration.choices.${n}`, `${c} is longer than maxDuration ${d.maxDuration}`);
      }
    });
    const names = new Set<string>();
    (i.formFields ?? []).forEach((f, n) => {
      if (names.has(f.name)) err(l, `formFields.${n}.name`, `duplicate form field "${f.name}"`);
      names.add(f.name);
      if (f.type === 'select' && !f.options)
        err(l, `formFields.${n}.options`, 'a select field lists its options');
      if (f.type !== 'select' && f.options)
        err(l, `formFields.${n}.options`, 'only a select field has options');
      if (f.pattern !== undefined) {
        try {
          new RegExp(f.pattern, 'u');
        } catch (e) {
          err(l, `formFields.${n}.pattern`, `not a regular expression (${(e as Error).message})`);
        }
      }
    });
  }
  return errors.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}
