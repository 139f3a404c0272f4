import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Compile } from 'typebox/compile';
import type { TSchema } from 'typebox';
import { isMap, isNode, LineCounter, parseAllDocuments, type Document } from 'yaml';
import {
  DOCUMENT_SCHEMAS,
  KnowledgeArticleDoc,
  type CatalogItemDoc,
  type DocumentKind,
  type FulfillmentGroupDoc,
  type LicensePoolDoc,
  type PackageDoc,
  type SecurityGroupDoc,
  type ServiceDoc,
} from './schemas.js';

/** A problem in the catalog files, where a reviewer finds it. */
export interface CatalogError {
  /** Relative to the catalog folder. */
  file: string;
  line: number;
  /** Dotted path of the field in its document (`approvalPolicy.0.groupId`), `kind` or empty for the whole document. */
  field: string;
  message: string;
}

export function formatError(e: CatalogError): string {
  return `${e.file}:${e.line}${e.field ? ` ${e.field}` : ''}: ${e.message}`;
}

/** A document and where it came from, so later checks can name the line of any of its fields. */
export interface Located<T> {
  doc: T;
  file: string;
  line: number;
  /** The line of a field (dotted path); the document's own line when the field is absent. */
  lineOf(field: string): number;
}

export interface KnowledgeArticle {
  id: string;
  title: string;
  tags: string[];
  body: string;
}

export interface CatalogFiles {
  items: Located<CatalogItemDoc>[];
  packages: Located<PackageDoc>[];
  licensePools: Located<LicensePoolDoc>[];
  securityGroups: Located<SecurityGroupDoc>[];
  services: Located<ServiceDoc>[];
  fulfillmentGroups: Located<FulfillmentGroupDoc>[];
  articles: Located<KnowledgeArticle>[];
}

const validators = Object.fromEntries(
  Object.entries(DOCUMENT_SCHEMAS).map(([kind, schema]) => [kind, Compile(schema as TSchema)]),
) as Record<DocumentKind, ReturnType<typeof Compile>>;
const articleValidator = Compile(KnowledgeArticleDoc);

const KEYS: Record<DocumentKind, keyof CatalogFiles> = {
  CatalogItem: 'items',
  Package: 'packages',
  LicensePool: 'licensePools',
  SecurityGroup: 'securityGroups',
  Service: 'services',
  FulfillmentGroup: 'fulfillmentGroups',
};

/** Every file under `dir` with one of the extensions, in a stable order. */
function filesUnder(dir: string, extensions: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, extensions));
    else if (extensions.some((e) => name.endsWith(e))) out.push(path);
  }
  return out;
}

/** Lines of one parsed YAML document, shifted by `lineOffset` (front matter sits below a `---`). */
function locator(doc: Document, counter: LineCounter, lineOffset: number) {
  const lineAt = (offset: number) => counter.linePos(offset).line + lineOffset;
  const docLine = lineAt(doc.contents && isNode(doc.contents) ? (doc.contents.range?.[0] ?? 0) : 0);
  return {
    docLine,
    lineOf: (field: string): number => {
      const path = field ? field.split('.') : [];
      // The deepest part of the path that exists: a missing field is reported on its parent's line.
      for (let n = path.length; n > 0; n--) {
        const keys = path.slice(0, n).map((k) => (/^[0-9]+$/.test(k) ? Number(k) : k));
        const parent = n > 1 ? doc.getIn(keys.slice(0, -1), true) : doc.contents;
        // The key's own line reads better than its value's (a block value starts on the next line).
        if (isMap(parent)) {
          const pair = parent.items.find(
            (p) => isNode(p.key) && (p.key as { value?: unknown }).value === keys.at(-1),
          );
          const range = pair && isNode(pair.key) ? pair.key.range : undefined;
          if (range) return lineAt(range[0]);
        }
        const node = doc.getIn(keys, true);
        if (isNode(node) && node.range) return lineAt(node.range[0]);
      }
      return docLine;
    },
  };
}

/** TypeBox's errors for one document, one per field, the way a reviewer wants to read them. */
function schemaErrors(validator: ReturnType<typeof Compile>, value: unknown) {
  const errors = [...validator.Errors(value)];
  const unknown = new Set(errors.filter((e) => e.message === 'schema is false').map((e) => e.instancePath));
  const byField = new Map<string, string>();
  for (const e of errors) {
    if (e.keyword === 'additionalProperties' && unknown.size > 0) continue;
    const field = e.instancePath.split('/').filter(Boolean).join('.');
    const message =
      e.message === 'schema is false'
        ? 'is not a known field'
        : e.keyword === 'required'
          ? `${e.message} (${String((e.params as { requiredProperties?: string[] }).requiredProperties?.join(', '))})`
          : e.message;
    // A union reports every branch it tried; the first message for a field is the plainest.
    if (!byField.has(field)) byField.set(field, message);
  }
  return [...byField].map(([field, message]) => ({ field, message }));
}

/** The parser's first line, without the position it repeats (the error has its own line). */
const yamlMessage = (message: string) => message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');

/** A Markdown paragraph's lines are one line of text: reflowing a file changes nothing. */
function markdownBody(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join(' '),
    )
    .filter(Boolean)
    .join('\n\n');
}

/**
 * Reads the catalog folder: every `*.yaml`/`*.yml` (one or more documents, each with a
 * `kind`) and every `*.md` knowledge article (front matter between `---` lines). Checks
 * each document against its schema; references between documents are checked later.
 */
export function loadCatalogFiles(dir: string): { files: CatalogFiles; errors: CatalogError[] } {
  const files: CatalogFiles = {
    items: [],
    packages: [],
    licensePools: [],
    securityGroups: [],
    services: [],
    fulfillmentGroups: [],
    articles: [],
  };
  const errors: CatalogError[] = [];
  for (const path of filesUnder(dir, ['.yaml', '.yml'])) {
    const file = relative(dir, path);
    const counter = new LineCounter();
    const docs = parseAllDocuments(readFileSync(path, 'utf8'), { lineCounter: counter, uniqueKeys: true });
    if (!Array.isArray(docs)) continue; // an empty file
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          errors.push({
            file,
            line: counter.linePos(e.pos[0]).line,
            field: '',
            message: yamlMessage(e.message),
          });
        }
        continue;
      }
      if (doc.contents === null) continue; // a `---` with nothing after it
      const at = locator(doc, counter, 0);
      const value = doc.toJS() as unknown;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        errors.push({
          file,
          line: at.docLine,
          field: '',
          message: 'a document must be a mapping with a kind',
        });
        continue;
      }
      const kind = (value as { kind?: unknown }).kind;
      if (typeof kind !== 'string' || !(kind in DOCUMENT_SCHEMAS)) {
        errors.push({
          file,
          line: at.lineOf('kind'),
          field: 'kind',
          message: `must be one of ${Object.keys(DOCUMENT_SCHEMAS).join(', ')} (knowledge articles are .md files)`,
        });
        continue;
      }
      const problems = schemaErrors(validators[kind as DocumentKind], value);
      for (const p of problems) errors.push({ file, line: at.lineOf(p.field), ...p });
      if (problems.length > 0) continue;
      (files[KEYS[kind as DocumentKind]] as Located<unknown>[]).push({
        doc: value,
        file,
        line: at.docLine,
        lineOf: at.lineOf,
      });
    }
  }
  for (const path of filesUnder(dir, ['.md'])) {
    const file = relative(dir, path);
    if (/(^|\/)README\.md$/i.test(file)) continue;
    const text = readFileSync(path, 'utf8').replace(/\r\n/g, '\n');
    const match = /^---\n([\s\S]*?)\n---\n?([\s\S]*)$/.exec(text);
    if (!match) {
      errors.push({
        file,
        line: 1,
        field: '',
        message: 'a knowledge article starts with front matter between --- lines',
      });
      continue;
    }
    const counter = new LineCounter();
    const [doc] = parseAllDocuments(match[1]!, { lineCounter: counter, uniqueKeys: true }) as Document[];
    if (!doc || doc.errors.length > 0) {
      const e = doc?.errors[0];
      errors.push({
        file,
        line: (e ? counter.linePos(e.pos[0]).line : 0) + 1,
        field: '',
        message: e ? yamlMessage(e.message) : 'empty front matter',
      });
      continue;
    }
    const at = locator(doc, counter, 1);
    const meta = doc.toJS() as unknown;
    const problems = schemaErrors(articleValidator, meta);
    for (const p of problems) errors.push({ file, line: at.lineOf(p.field), ...p });
    if (problems.length > 0) continue;
    const front = meta as { id: string; title: string; tags?: string[] };
    const body = markdownBody(match[2]!);
    if (!body) {
      errors.push({
        file,
        line: match[1]!.split('\n').length + 2,
        field: 'body',
        message: 'the article has no text',
      });
      continue;
    }
    files.articles.push({
      doc: { id: front.id, title: front.title, tags: front.tags ?? [], body },
      file,
      line: at.docLine,
      lineOf: at.lineOf,
    });
  }
  return { files, errors };
}
