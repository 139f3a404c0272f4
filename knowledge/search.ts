import { sql } from 'drizzle-orm';
import type { DB } from '../db/client.js';

export interface KnowledgeHit {
  id: string;
  title: string;
  /** A window of the body around the matched words, which are wrapped in [brackets]. */
  snippet: string;
  body: string;
  /**
   * bm25 negated, so higher is better. Its scale moves with the corpus and the
   * query's length: good for ordering, fragile as a fixed "good enough" threshold.
   */
  score: number;
  /**
   * Share of the question's search terms that occur in the article, 0..1. Unlike
   * score it does not drift with the corpus: an OR query finds an article for a
   * single shared word ("office"), and coverage is how a caller tells that apart
   * from an answer.
   */
  coverage: number;
}

// Words that carry no meaning in a service-desk question. "s" and "t" are what the
// split leaves of "what's" and "can't"; "and", "or", "not" would otherwise only dilute.
const STOP_WORDS = new Set(
  (
    'a an and are as at be by can could do does did for from get got has have how i if in into is it its ' +
    'me my of on or our please s should so t that the their them there this to up us was we were what ' +
    'when where which who why will with would you your not no'
  ).split(' '),
);

// A 200-character question cannot have more useful words than this; the bound keeps
// an activity caller with a pasted e-mail from building an unbounded OR chain.
const MAX_TERMS = 32;
const MAX_LIMIT = 50;

/**
 * Turns free text into FTS5 terms that cannot be a syntax error: only runs of
 * letters, digits and combining marks survive, and each one becomes a quoted string
 * (so AND, NEAR, column filters, `*`, `-`, `^` and parentheses are never operators).
 * Terms of three or more characters match as prefixes ("conn" finds "connect").
 */
export function toFtsTerms(text: string): string[] {
  const words = new Set<string>();
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}\p{M}]+/u)) {
    // A lone combining mark is no word: the tokenizer would fold it to nothing.
    if (!/[\p{L}\p{N}]/u.test(word) || STOP_WORDS.has(word)) continue;
    words.add(word);
    if (words.size === MAX_TERMS) break;
  }
  // The split leaves no double quotes, but doubling them keeps the quoting correct on its own.
  return [...words].map((w) => `"${w.replaceAll('"', '""')}"${[...w].length >= 3 ? '*' : ''}`);
}

/**
 * The terms ORed, so a question matches an article that answers part of it;
 * undefined when nothing searchable is left.
 */
export function toFtsQuery(text: string): string | undefined {
  const terms = toFtsTerms(text);
  return terms.length > 0 ? terms.join(' OR ') : undefined;
}

// Not aliased "rank": FTS5 has a hidden column of that name (unweighted bm25), and a
// distinct name leaves no doubt which one ORDER BY sorts by.
interface Row {
  rowid: number;
  id: string;
  title: string;
  body: string;
  snippet: string;
  bm25: number;
}

/** Ranks knowledge articles against a free-text question; title matches weigh most, then tags, then body. */
export function searchKnowledge(db: DB, query: string, limit = 5): KnowledgeHit[] {
  const terms = toFtsTerms(query);
  if (terms.length === 0) return [];
  const n = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_LIMIT);
  const rows = db.all<Row>(sql`
    SELECT a.rowid AS rowid, a.id AS id, a.title AS title, a.body AS body,
           snippet(knowledge_fts, 1, '[', ']', '…', 16) AS snippet,
           bm25(knowledge_fts, 10.0, 1.0, 5.0) AS bm25
    FROM knowledge_fts
    JOIN knowledge_articles a ON a.rowid = knowledge_fts.rowid
    WHERE knowledge_fts MATCH ${terms.join(' OR ')}
    ORDER BY bm25, a.id
    LIMIT ${n}
  `);
  if (rows.length === 0) return [];
  // One small indexed lookup per term, limited to the hits: at most MAX_TERMS of them.
  const found = new Map<number, number>();
  const hitRowids = sql.join(
    rows.map((r) => sql`${r.rowid}`),
    sql`, `,
  );
  for (const term of terms) {
    const matched = db.all<{ rowid: number }>(
      sql`SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH ${term} AND rowid IN (${hitRowids})`,
    );
    for (const { rowid } of matched) found.set(rowid, (found.get(rowid) ?? 0) + 1);
  }
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    snippet: r.snippet,
    body: r.body,
    score: -r.bm25,
    coverage: (found.get(r.rowid) ?? 0) / terms.length,
  }));
}
