import { and, asc, eq, gte, isNull, lt, lte, or } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { renderNotification } from './render.js';
import type { Transport } from './transports.js';

/*
 * Delivery of the notifications outbox (activities/notify.ts writes it).
 *
 * Several worker processes may each run a dispatcher on the same database. Before
 * sending, a dispatcher claims a row with an optimistic update
 * (`... WHERE id = ? AND status = 'pending' AND attempts = ?`); SQLite serialises
 * writers, so of two dispatchers that read the same row only one sees a change,
 * and only that one sends. The claim also sets `next_attempt_at`: a row with n
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
  function abandonExhausted(nowIso: string): void {
    const res = db
      .update(n)
      .set({ status: 'failed', nextAttemptAt: null })
      .where(and(eq(n.status, 'pending'), gte(n.attempts, maxAttempts), due(nowIso)))
      .run();
    if (res.changes > 0)
      log(`outbox: ${res.changes} notification(s) failed: last attempt never reported back`);
  }

  async function dispatchOnce(): Promise<number> {
    const startedIso = now().toISOString();
    abandonExhausted(startedIso);
    const rows = db
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
      .where(and(eq(n.status, 'pending'), lt(n.attempts, maxAttempts), due(startedIso)))
      .orderBy(asc(n.createdAt), asc(n.id))
      .limit(batchSize)
      .all();

    let sent = 0;
    for (const row of rows) {
      if (!row.active) {
        // Deactivated in the directory: their mailbox is closing and their access is gone.
        // Failed with the reason rather than sent; nothing is retried, the row stays as a record.
        const skipped = db
          .update(n)
          .set({
            status: 'failed',
            nextAttemptAt: null,
            lastError: `not sent: ${row.recipientId} is inactive in the directory`,
          })
          .where(and(eq(n.id, row.id), eq(n.status, 'pending'), eq(n.attempts, row.attempts)))
          .run();
        if (skipped.changes === 1)
          log(`outbox: #${row.id} to ${row.recipientId} not sent: the recipient is inactive`);
        continue;
      }
      const attempt = row.attempts + 1;
      const claimed = db
        .update(n)
        .set({ attempts: attempt, nextAttemptAt: later(delayAfter(attempt)) })
        .where(and(eq(n.id, row.id), eq(n.status, 'pending'), eq(n.attempts, row.attempts)))
        .run();
      // Another dispatcher claimed it since our select.
      if (claimed.changes !== 1) continue;

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
        db.update(n)
          .set({
            status: exhausted ? 'failed' : 'pending',
            nextAttemptAt: exhausted ? null : later(delayAfter(attempt)),
            lastError: `attempt ${attempt}: ${message}`,
          })
          .where(and(eq(n.id, row.id), eq(n.status, 'pending'), eq(n.attempts, attempt)))
          .run();
        const next = exhausted ? 'giving up' : `retry in ${Math.round(delayAfter(attempt) / 1000)}s`;
        log(
          `outbox: #${row.id} to ${who} attempt ${attempt}/${maxAttempts} via ${transport.name} failed: ${message}; ${next}`,
        );
        continue;
      }
      // lastError stays: a sent row still says what went wrong on an earlier attempt.
      db.update(n)
        .set({ status: 'sent', sentAt: now().toISOString(), nextAttemptAt: null })
        .where(eq(n.id, row.id))
        .run();
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
