import { sql, type SQL } from 'drizzle-orm';
import { databaseDialect, selectRows, type DB } from '../db/client.js';

/*
 * Knowledge search on either database: SQLite's FTS5 table `knowledge_fts` (bm25), or
 * PostgreSQL's generated tsvector column `knowledge_articles.search` (ts_rank). Both index
 * title, tags and body weighted 10 : 5 : 1, stem English words, match a term of three or
 * more characters as a prefix and OR the terms; the hits have the same shape.
 */

export interface KnowledgeHit {
  id: string;
  title: string;
  /** A window of the body around the matched words, which are wrapped in [brackets]. */
  snippet: string;
  body: string;
  /**
   * Higher is better: bm25 negated on SQLite, ts_rank on PostgreSQL. Its scale moves with
   * the database, the corpus and the query's length: good for ordering, fragile as a fixed
   * "good enough" threshold.
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
 * The searchable words of free text: only runs of letters, digits and combining marks
 * survive, lower-cased, without stop words and repeats, at most MAX_TERMS of them.
 */
function searchWords(text: string): string[] {
  const words = new Set<string>();
  for (const word of text.toLowerCase().split(/[^\p{L}\p{N}\p{M}]+/u)) {
    // A lone combining mark is no word: the tokenizer would fold it to nothing.
    if (!/[\p{L}\p{N}]/u.test(word) || STOP_WORDS.has(word)) continue;
    words.add(word);
    if (words.size === MAX_TERMS) break;
  }
  return [...words];
}

/** Terms of three or more characters match as prefixes ("conn" finds "connect"). */
const isPrefix = (word: string) => [...word].length >= 3;

/**
 * Turns free text into FTS5 terms that cannot be a syntax error: each word becomes a
 * quoted string (so AND, NEAR, column filters, `*`, `-`, `^` and parentheses are never
 * operators), a prefix when long enough.
 */
export function toFtsTerms(text: string): string[] {
  // The split leaves no double quotes, but doubling them keeps the quoting correct on its own.
  return searchWords(text).map((w) => `"${w.replaceAll('"', '""')}"${isPrefix(w) ? '*' : ''}`);
}

/**
 * The terms ORed, so a question matches an article that answers part of it;
 * undefined when nothing searchable is left.
 */
export function toFtsQuery(text: string): string | undefined {
  const terms = toFtsTerms(text);
  return terms.length > 0 ? terms.join(' OR ') : undefined;
}

/** Ranks knowledge articles against a free-text question; title matches weigh most, then tags, then body. */
export async function searchKnowledge(db: DB, query: string, limit = 5): Promise<KnowledgeHit[]> {
  const n = Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_LIMIT);
  return databaseDialect(db) === 'postgres'
    ? searchPostgres(db, searchWords(query), n)
    : searchSqlite(db, query, n);
}

// Not aliased "rank": FTS5 has a hidden column of that name (unweighted bm25), and a
// distinct name leaves no doubt which one ORDER BY sorts by.
interface SqliteRow {
  rowid: number;
  id: string;
  title: string;
  body: string;
  snippet: string;
  bm25: number;
}

async function searchSqlite(db: DB, query: string, n: number): Promise<KnowledgeHit[]> {
  const terms = toFtsTerms(query);
  if (terms.length === 0) return [];
  const rows = await selectRows<SqliteRow>(
    db,
    sql`
      SELECT a.rowid AS rowid, a.id AS id, a.title AS title, a.body AS body,
             snippet(knowledge_fts, 1, '[', ']', '…', 16) AS snippet,
             bm25(knowledge_fts, 10.0, 1.0, 5.0) AS bm25
      FROM knowledge_fts
      JOIN knowledge_articles a ON a.rowid = knowledge_fts.rowid
      WHERE knowledge_fts MATCH ${terms.join(' OR ')}
      ORDER BY bm25, a.id
      LIMIT ${n}
    `,
  );
  if (rows.length === 0) return [];
  // One small indexed lookup per term, limited to the hits: at most MAX_TERMS of them.
  const found = new Map<number, number>();
  const hitRowids = sql.join(
    rows.map((r) => sql`${r.rowid}`),
    sql`, `,
  );
  for (const term of terms) {
    const matched = await selectRows<{ rowid: number }>(
      db,
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

interface PostgresRow {
  id: string;
  title: string;
  body: string;
  snippet: string;
  rank: number;
  /** How many of the searchable terms the article matches. */
  found: number;
  /** How many terms are left once PostgreSQL's English stop words are dropped. */
  searchable: number;
}

// ts_rank's weights in {D, C, B, A} order: body (C) 1, tags (B) 5, title (A) 10, as on SQLite.
const WEIGHTS = sql.raw(`'{0.1, 0.1, 0.5, 1.0}'::float4[]`);
const HEADLINE = 'StartSel=[, StopSel=], MaxWords=16, MinWords=8, MaxFragments=1, FragmentDelimiter=…';

async function searchPostgres(db: DB, words: string[], n: number): Promise<KnowledgeHit[]> {
  if (words.length === 0) return [];
  // Each word is its own to_tsquery argument (a bound parameter): letters, digits and
  // marks only, so nothing in it is tsquery syntax; `:*` makes it a prefix.
  const terms: SQL[] = words.map((w) => sql`to_tsquery('english', ${isPrefix(w) ? `${w}:*` : w})`);
  const sum = (each: (term: SQL) => SQL) =>
    sql.join(
      terms.map((term) => sql`(${each(term)})::int`),
      sql` + `,
    );
  const rows = await selectRows<PostgresRow>(
    db,
    sql`
      WITH q AS (SELECT ${sql.join(terms, sql` || `)} AS query)
      SELECT a.id, a.title, a.body,
             ts_headline('english', a.body, q.query, ${HEADLINE}) AS snippet,
             ts_rank(${WEIGHTS}, a.search, q.query) AS rank,
             ${sum((term) => sql`a.search @@ ${term}`)} AS found,
             ${sum((term) => sql`numnode(${term}) > 0`)} AS searchable
      FROM knowledge_articles a, q
      WHERE a.search @@ q.query
      ORDER BY rank DESC, a.id
      LIMIT ${n}
    `,
  );
  // A word PostgreSQL drops as a stop word ("about") matches nothing: coverage counts the
  // words that can match, as the stop-word list above does for both databases.
  return rows.map((r) => ({
    id: r.id,
    title: r.title,
    snippet: r.snippet,
    body: r.body,
    score: r.rank,
    coverage: r.searchable > 0 ? r.found / r.searchable : 0,
  }));
}
