import { and, asc, desc, eq, gte, isNull, lt, lte, or } from 'drizzle-orm';
import { databaseDialect, forUpdateSkipLocked, type DB, type Tx } from '../db/client.js';
import { transaction } from '../db/transaction.js';
import * as t from '../db/schema.js';
import { createLinks, type LinkOptions, type Links } from './links.js';
import { renderNotification } from './render.js';
import type { Transport } from './transports.js';

/*
 * The notifications aggregate: this module alone writes the outbox table. Messages are
 * queued here (by activities and by routes, in their own transaction where a message must
 * commit with the change it announces) and delivered here by the dispatcher below.
 */

export interface NotificationInput {
  /** Idempotency key, e.g. `${requestId}:fulfilled`. */
  key: string;
  requestId?: string;
  recipient: string;
  subject: string;
  body: string;
  /** Paths starting with `/` are made absolute with the public URL; see Links.resolve. */
  links?: Record<string, string>;
  /**
   * The beneficiary of a request made on their behalf: they get their own copy, saying
   * who asked, with only the links that are not signed for the requester.
   */
  copyTo?: string;
}

export interface ApproverNotification {
  requestId: string;
  level: number;
  approvers: string[];
  kind: 'request' | 'reminder' | 'escalation' | 'reroute';
  subject: string;
  body: string;
}

export interface NotificationsDeps extends LinkOptions {
  db: DB;
  /** Clock, injectable so tests get stable timestamps. */
  now?: () => Date;
}

/** The database, or a transaction on it. */
type OutboxWriter = DB | Tx;

/** Links anyone allowed to read the request may follow; signed ones (a survey) stay the requester's. */
const SHAREABLE_LINKS = new Set(['request', 'launch', 'bookmark']);

interface OutboxRow {
  key: string;
  requestId?: string | undefined;
  recipientId: string;
  subject: string;
  body: string;
  links: Record<string, string>;
}

/** The unique key makes a second queueing (a retried activity) a no-op instead of a second message. */
async function insertOnce(tx: OutboxWriter, at: string, row: OutboxRow): Promise<boolean> {
  const inserted = await tx
    .insert(t.notifications)
    .values({ ...row, createdAt: at })
    .onConflictDoNothing({ target: t.notifications.key })
    .returning({ id: t.notifications.id });
  return inserted.length > 0;
}

/** Who `who` names: user ids as they are, `group:<id>` as its members, `device:<id>` as its owner. */
async function people(db: OutboxWriter, who: string[]): Promise<string[]> {
  const out = new Set<string>();
  for (const w of who) {
    if (w.startsWith('group:')) {
      const members = await db
        .select({ userId: t.groupMembers.userId })
        .from(t.groupMembers)
        .where(eq(t.groupMembers.groupId, w.slice(6)));
      for (const m of members) out.add(m.userId);
    } else if (w.startsWith('device:')) {
      const [d] = await db
        .select({ ownerId: t.devices.ownerId })
        .from(t.devices)
        .where(eq(t.devices.id, w.slice(7)))
        .limit(1);
      if (d) out.add(d.ownerId);
    } else {
      out.add(w);
    }
  }
  return [...out];
}

export interface OutboxListFilter {
  recipient?: string | undefined;
  requestId?: string | undefined;
  limit: number;
}

export function createNotifications(deps: NotificationsDeps) {
  const { db } = deps;
  const links: Links = createLinks(deps);
  const now = () => (deps.now ? deps.now() : new Date()).toISOString();

  async function notifyIn(
    tx: OutboxWriter,
    input: NotificationInput,
  ): Promise<{ queued: boolean; links: string[] }> {
    const at = now();
    const resolved = links.resolve(input.links ?? {}, input);
    const queued = await insertOnce(tx, at, {
      key: input.key,
      requestId: input.requestId,
      recipientId: input.recipient,
      subject: input.subject,
      body: input.body,
      links: resolved,
    });
    if (input.copyTo && input.copyTo !== input.recipient) {
      await insertOnce(tx, at, {
        key: `${input.key}:for:${input.copyTo}`,
        requestId: input.requestId,
        recipientId: input.copyTo,
        subject: input.subject,
        body: `${input.recipient} requested this on your behalf${input.requestId ? ` (${input.requestId})` : ''}.\n\n${input.body}`,
        links: Object.fromEntries(Object.entries(resolved).filter(([k]) => SHAREABLE_LINKS.has(k))),
      });
    }
    return { queued, links: Object.keys(resolved) };
  }

  return {
    links,

    /**
     * Queues one message inside the caller's transaction, so it commits with the change it
     * announces or not at all.
     */
    notifyIn,

    /**
     * Queues one message (and the beneficiary's copy); a transport delivers it from the outbox.
     * Resolves to whether it was new and the names of its links (the links may carry tokens).
     */
    async notify(input: NotificationInput): Promise<{ queued: boolean; links: string[] }> {
      return notifyIn(db, input);
    },

    /** One message to each person `who` names (users, groups, a device's owner). */
    async notifyPeople(
      input: Omit<NotificationInput, 'recipient' | 'copyTo'> & { who: string[] },
    ): Promise<void> {
      const { who, key, requestId, subject, body } = input;
      for (const recipient of await people(db, who))
        await notifyIn(db, {
          key: `${key}:${recipient}`,
          requestId,
          recipient,
          subject,
          body,
          links: input.links ?? {},
        });
    },

    /**
     * Asks approvers to decide: a message each, carrying who/what/why and approve/deny
     * links signed for that approver and this request only.
     */
    async notifyApprovers(input: ApproverNotification): Promise<void> {
      const at = now();
      for (const approver of input.approvers) {
        await insertOnce(db, at, {
          key: `${input.requestId}:approval:${input.level}:${input.kind}:${approver}`,
          requestId: input.requestId,
          recipientId: approver,
          subject: input.subject,
          body: input.body,
          links: links.approval(input.requestId, approver),
        });
      }
    },
  };
}

export type Notifications = ReturnType<typeof createNotifications>;

/** The outbox, newest first (the dev mailbox; the caller decides whose messages one may read). */
export async function listOutbox(db: DB, filter: OutboxListFilter) {
  return db
    .select({
      id: n.id,
      key: n.key,
      requestId: n.requestId,
      recipient: n.recipientId,
      subject: n.subject,
      body: n.body,
      links: n.links,
      status: n.status,
      attempts: n.attempts,
      lastError: n.lastError,
      createdAt: n.createdAt,
      sentAt: n.sentAt,
    })
    .from(n)
    .where(
      and(
        filter.recipient ? eq(n.recipientId, filter.recipient) : undefined,
        filter.requestId ? eq(n.requestId, filter.requestId) : undefined,
      ),
    )
    .orderBy(desc(n.createdAt), desc(n.id))
    .limit(filter.limit);
}

/*
 * Delivery of the notifications outbox (queued above).
 *
 * Several worker processes may each run a dispatcher on the same database. Before
 * sending, a dispatcher claims a row. On SQLite the claim is an optimistic update
 * (`... WHERE id = ? AND status = 'pending' AND attempts = ?`): the database serialises
 * writes to a row, so of two dispatchers that read the same row only one sees a change,
 * and only that one sends. On PostgreSQL the claim reads the row with
 * `FOR UPDATE SKIP LOCKED` in its own transaction: other dispatchers pass over it instead
 * of queueing behind it or racing for it. The claim also sets `next_attempt_at`: a row with n
 * attempts is due again `retryDelayMs * 2^(n-1)` later (1, 2, 4, 8 min by default).
 * That delay is both the retry backoff and the lease of a send in flight, so it
 * must exceed the longest send (the SMTP transport caps its timeouts well below a
 * minute). A dispatcher that dies mid-send leaves a row that is retried once its
 * lease runs out: delivery is at least once, and twice only in that case.
 */

export interface OutboxDispatcherOptions {
  db: DB;
  transport: Transport;
  log: (line: string) => void;
  /** Pause between passes of start(). */
  pollMs?: number;
  /** Attempts before a row is marked `failed`. */
  maxAttempts?: number;
  /** Rows picked per pass, oldest first. */
  batchSize?: number;
  /** Delay after the first attempt; doubles with each further attempt, and is the claim's lease. */
  retryDelayMs?: number;
  /** Clock, injectable so tests can step past the backoff. */
  now?: () => Date;
}

export interface OutboxDispatcher {
  /** One pass over due rows; resolves to the number of messages sent. */
  dispatchOnce(): Promise<number>;
  /** Runs a pass every pollMs, never two at once. */
  start(): void;
  /** Stops the loop and waits for a running pass to finish. */
  stop(): Promise<void>;
}

const MAX_ERROR_LENGTH = 500;
const n = t.notifications;

function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').slice(0, MAX_ERROR_LENGTH);
}

export function createOutboxDispatcher(options: OutboxDispatcherOptions): OutboxDispatcher {
  const { db, transport, log } = options;
  const pollMs = options.pollMs ?? 1000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const batchSize = options.batchSize ?? 20;
  const retryDelayMs = options.retryDelayMs ?? 60_000;
  const now = options.now ?? (() => new Date());

  const delayAfter = (attempts: number) => retryDelayMs * 2 ** (attempts - 1);
  const later = (ms: number) => new Date(now().getTime() + ms).toISOString();
  const due = (nowIso: string) => or(isNull(n.nextAttemptAt), lte(n.nextAttemptAt, nowIso));

  /** The last attempt's dispatcher died mid-send: nothing will report back once its lease is over. */
  async function abandonExhausted(nowIso: string): Promise<void> {
    const failed = await db
      .update(n)
      .set({ status: 'failed', nextAttemptAt: null })
      .where(and(eq(n.status, 'pending'), gte(n.attempts, maxAttempts), due(nowIso)))
      .returning({ id: n.id });
    if (failed.length > 0)
      log(`outbox: ${failed.length} notification(s) failed: last attempt never reported back`);
  }

  /** Due rows, oldest first, with what sending needs from the recipient. */
  function selectDue(reader: OutboxWriter, nowIso: string, limit: number) {
    return reader
      .select({
        id: n.id,
        requestId: n.requestId,
        recipientId: n.recipientId,
        subject: n.subject,
        body: n.body,
        links: n.links,
        attempts: n.attempts,
        email: t.users.email,
        name: t.users.name,
        active: t.users.active,
      })
      .from(n)
      .innerJoin(t.users, eq(t.users.id, n.recipientId))
      .where(and(eq(n.status, 'pending'), lt(n.attempts, maxAttempts), due(nowIso)))
      .orderBy(asc(n.createdAt), asc(n.id))
      .limit(limit);
  }
  type DueRow = Awaited<ReturnType<typeof selectDue>>[number];

  /**
   * Claims one row for this dispatcher (the next attempt and its lease), or fails it when its
   * recipient is inactive; true when it is this dispatcher's to send. `guarded`: the row is not
   * locked, so the update holds only if the row is still as it was read.
   */
  async function take(writer: OutboxWriter, row: DueRow, guarded: boolean): Promise<boolean> {
    const unchanged = guarded
      ? and(eq(n.id, row.id), eq(n.status, 'pending'), eq(n.attempts, row.attempts))
      : eq(n.id, row.id);
    if (!row.active) {
      // Deactivated in the directory: their mailbox is closing and their access is gone.
      // Failed with the reason rather than sent; nothing is retried, the row stays as a record.
      const skipped = await writer
        .update(n)
        .set({
          status: 'failed',
          nextAttemptAt: null,
          lastError: `not sent: ${row.recipientId} is inactive in the directory`,
        })
        .where(unchanged)
        .returning({ id: n.id });
      if (skipped.length === 1)
        log(`outbox: #${row.id} to ${row.recipientId} not sent: the recipient is inactive`);
      return false;
    }
    const attempt = row.attempts + 1;
    const claimed = await writer
      .update(n)
      .set({ attempts: attempt, nextAttemptAt: later(delayAfter(attempt)) })
      .where(unchanged)
      .returning({ id: n.id });
    // Unguarded, the lock makes it ours; guarded, another dispatcher may have claimed it since our select.
    return claimed.length === 1;
  }

  /**
   * The due rows this dispatcher takes, each claimed just before it is sent, so that its
   * lease starts when its send does.
   */
  async function* claimDue(nowIso: string): AsyncGenerator<DueRow> {
    if (databaseDialect(db) === 'postgres') {
      // One row per transaction that locks what it reads: another node's dispatcher skips
      // the row while we hold it, and finds it not due (leased) once we commit.
      for (let seen = 0; seen < batchSize; seen++) {
        // undefined: nothing left that is due and unlocked; null: a row failed rather than sent.
        const row = await transaction(db, async (tx): Promise<DueRow | null | undefined> => {
          const [next] = await forUpdateSkipLocked(selectDue(tx, nowIso, 1), n);
          if (!next) return undefined;
          return (await take(tx, next, false)) ? next : null;
        });
        if (row === undefined) return;
        if (row) yield row;
      }
      return;
    }
    for (const row of await selectDue(db, nowIso, batchSize)) if (await take(db, row, true)) yield row;
  }

  async function dispatchOnce(): Promise<number> {
    const startedIso = now().toISOString();
    await abandonExhausted(startedIso);
    let sent = 0;
    for await (const row of claimDue(startedIso)) {
      const attempt = row.attempts + 1;
      const who = `${row.recipientId} <${row.email}>`;
      try {
        const { text, html } = renderNotification(row);
        await transport.send({
          to: row.email,
          toName: row.name,
          subject: row.subject,
          text,
          html,
          links: row.links,
        });
      } catch (err) {
        const message = errorMessage(err);
        const exhausted = attempt >= maxAttempts;
        await db
          .update(n)
          .set({
            status: exhausted ? 'failed' : 'pending',
            nextAttemptAt: exhausted ? null : later(delayAfter(attempt)),
            lastError: `attempt ${attempt}: ${message}`,
          })
          .where(and(eq(n.id, row.id), eq(n.status, 'pending'), eq(n.attempts, attempt)));
        const next = exhausted ? 'giving up' : `retry in ${Math.round(delayAfter(attempt) / 1000)}s`;
        log(
          `outbox: #${row.id} to ${who} attempt ${attempt}/${maxAttempts} via ${transport.name} failed: ${message}; ${next}`,
        );
        continue;
      }
      // lastError stays: a sent row still says what went wrong on an earlier attempt.
      await db
        .update(n)
        .set({ status: 'sent', sentAt: now().toISOString(), nextAttemptAt: null })
        .where(eq(n.id, row.id));
      sent++;
      log(
        `outbox: sent #${row.id}${row.requestId ? ` (${row.requestId})` : ''} to ${who} via ${transport.name}: ${JSON.stringify(row.subject)}`,
      );
    }
    return sent;
  }

  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  function pass(): void {
    timer = undefined;
    running = dispatchOnce()
      .then(
        () => undefined,
        // A database hiccup must not end delivery for the life of the worker; the next pass retries.
        (err: unknown) => log(`outbox: pass failed: ${errorMessage(err)}`),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(pass, pollMs);
      });
  }

  return {
    dispatchOnce,
    start() {
      if (!stopped) return;
      stopped = false;
      pass();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
