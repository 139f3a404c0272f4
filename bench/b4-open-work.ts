/**
 * B4: requests waiting for approval pile up (access requests, all for one manager): at each
 * level, the worker's resident memory and the p99 of the first page of `GET /api/approvals`
 * (the manager's inbox) and `GET /api/requests` (an operator's view of everything). The
 * baseline is the same reads and the same worker before any request waits.
 */
import { and, count, eq } from 'drizzle-orm';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeDatabase, openDatabase } from '../db/client.js';
import * as t from '../db/schema.js';
import type { BenchContext } from './context.js';
import { BENCH_MANAGER } from './fixture.js';
import { submit } from './requests.js';
import { inParallel, percentile } from './stats.js';

/** An operator of the demo organisation: sees every request. */
const OPERATOR = 'olga';
/** Left of the run's time for the last wait, the reads and the stack's shutdown. */
const RESERVE_MS = 120_000;
/** The pile always gets this long, so even a late B4 measures something. */
const MIN_FILL_MS = 30_000;
/** Submits in flight while the pile grows: enough to keep the stack busy, not a measurement. */
const FILL_CONCURRENCY = 16;

export interface OpenWorkLevel {
  /** The level asked for... */
  target: number;
  /** ...and the one reached within the fill budget. */
  waiting: number;
  workerRssMb: number;
  approvalsP99: number;
  requestsP99: number;
  /** How fast the pile grew to this level (submits per second). */
  fillPerSecond: number;
}

export interface OpenWorkResult {
  empty: OpenWorkLevel;
  levels: OpenWorkLevel[];
  /** Growth from the first level to the last, in words. */
  growth: { rss: string; approvals: string; requests: string };
}

function rssMb(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line ? Number(line.replace(/\D+/g, '')) / 1024 : Number.NaN;
}

async function p99Of(ctx: BenchContext, path: string, as: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < ctx.scale.listReads; i++) {
    const sentAt = performance.now();
    await ctx.api.json('GET', path, { as, expect: 200 });
    samples.push(performance.now() - sentAt);
  }
  return percentile(samples, 99);
}

async function measure(
  ctx: BenchContext,
  target: number,
  waiting: number,
  fillPerSecond: number,
): Promise<OpenWorkLevel> {
  const level = {
    target,
    waiting,
    approvalsP99: await p99Of(ctx, '/api/approvals', BENCH_MANAGER),
    requestsP99: await p99Of(ctx, '/api/requests', OPERATOR),
    workerRssMb: rssMb(ctx.stack.pid('worker')),
    fillPerSecond,
  };
  ctx.log(
    `B4 ${waiting} waiting: worker RSS ${level.workerRssMb.toFixed(0)} MB, GET /api/approvals p99 ${level.approvalsP99.toFixed(1)} ms, GET /api/requests p99 ${level.requestsP99.toFixed(1)} ms`,
  );
  return level;
}

/**
 * Reads the requests table (as a report would; the worker alone writes it) until `target`
 * requests wait for approval. The deadline allows a slow machine a few requests a second.
 */
async function awaitWaiting(ctx: BenchContext, target: number): Promise<void> {
  const db = openDatabase(ctx.stack.databaseFile, { migrate: false });
  try {
    const deadline = Date.now() + 120_000 + target * 200;
    for (;;) {
      const [row] = await db
        .select({ n: count() })
        .from(t.requests)
        .where(
          and(
            eq(t.requests.catalogItemId, 'financial-reporting'),
            eq(t.requests.status, 'awaiting_approval'),
          ),
        );
      if ((row?.n ?? 0) >= target) return;
      if (Date.now() > deadline)
        throw new Error(`only ${row?.n ?? 0} of ${target} requests reached their approval in time`);
      await sleep(500);
    }
  } finally {
    await closeDatabase(db);
  }
}

/**
 * "flat" when the larger level costs under 1.5× the smaller, "linear" when it grows about as
 * the work does (within a factor of two of it either way), else sub- or super-linear.
 */
export function growthInWords(from: number, to: number, workFactor: number): string {
  const factor = to / from;
  const words =
    factor < 1.5
      ? 'flat'
      : factor < workFactor / 2
        ? 'sub-linear'
        : factor <= workFactor * 2
          ? 'linear'
          : 'super-linear';
  return `${words} (×${factor.toFixed(1)} for ×${workFactor} the work)`;
}

export async function openWork(ctx: BenchContext): Promise<OpenWorkResult> {
  const requesters = ctx.requesters();
  const empty = await measure(ctx, 0, 0, Number.NaN);
  const levels: OpenWorkLevel[] = [];
  // One budget for the whole pile, so a slow stack makes a short report instead of a long run;
  // never past the point where the run could no longer wait, read twice and stop in time.
  const fillUntil = Math.max(
    Date.now() + MIN_FILL_MS,
    Math.min(Date.now() + ctx.scale.openWorkFillSeconds * 1000, ctx.runUntil - RESERVE_MS),
  );
  let waiting = 0;
  for (const target of ctx.scale.openWork) {
    const started = Date.now();
    let added = 0;
    await inParallel(target - waiting, FILL_CONCURRENCY, async (i) => {
      if (Date.now() > fillUntil) return;
      const requester = requesters[(waiting + i) % requesters.length]!.userId;
      const { view } = await submit(ctx, requester, {
        catalogItemId: 'financial-reporting',
        justification: 'benchmark: open work',
      });
      if (!['submitted', 'checking_entitlement', 'awaiting_approval'].includes(view.status)) {
        throw new Error(`${view.id} is ${view.status}, not on its way to approval`);
      }
      added++;
    });
    waiting += added;
    // Under load the early return comes before some requests reached their approval.
    await awaitWaiting(ctx, waiting);
    const fillPerSecond = added / ((Date.now() - started) / 1000);
    levels.push(await measure(ctx, target, waiting, fillPerSecond));
    if (waiting < target) {
      ctx.log(`B4: the time for the pile ran out at ${waiting} of ${target} waiting`);
      break;
    }
  }
  const first = levels[0]!;
  const last = levels.at(-1)!;
  const work = Math.round(last.waiting / first.waiting);
  const once = 'one level only: the pile did not grow past it in time';
  return {
    empty,
    levels,
    growth:
      levels.length < 2
        ? { rss: once, approvals: once, requests: once }
        : {
            rss: growthInWords(first.workerRssMb, last.workerRssMb, work),
            approvals: growthInWords(first.approvalsP99, last.approvalsP99, work),
            requests: growthInWords(first.requestsP99, last.requestsP99, work),
          },
  };
}
