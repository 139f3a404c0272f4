/**
 * A mixed workload whose every request has one right ending, and the people who bring it
 * there: the requester who submits (with an Idempotency-Key, retrying on connection errors),
 * the manager who approves or denies, procurement and the service owner who complete tasks.
 * They act through the HTTP API; what they see is read from the database, as a portal would.
 */
import { inArray } from 'drizzle-orm';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { isFinalStatus, type RequestStatus } from '../domain/status.js';
import type { ChaosClient } from './client.js';
import { CHAOS_DEVICE, chaosTool, chaosUser } from './fixtures.js';

export type Kind =
  'question' | 'vpn-access' | 'finance-approved' | 'finance-denied' | 'monitor' | 'software' | 'feedback';

export interface Planned {
  key: string;
  kind: Kind;
  requester: string;
  body: Record<string, unknown>;
  /** The final status the request reaches without faults. */
  expected: RequestStatus;
  id?: string;
  /** Software: the package it installs. */
  tool?: string;
}

/** Out of every 20 requests: the mix of request types and of endings, spread so that any stretch has some of each. */
const MIX: Kind[] = [
  'question',
  'vpn-access',
  'finance-approved',
  'question',
  'monitor',
  'software',
  'question',
  'feedback',
  'finance-denied',
  'question',
  'vpn-access',
  'monitor',
  'question',
  'software',
  'finance-approved',
  'question',
  'feedback',
  'vpn-access',
  'question',
  'question',
];

/** Hands out chaos people and packages, each to one request of the whole run. */
export class Allocator {
  private users = 0;
  private tools = 0;
  nextUser(): string {
    return chaosUser(++this.users);
  }
  nextTool(): string {
    return chaosTool(++this.tools);
  }
}

export function plan(scenario: string, n: number, alloc: Allocator, kinds: readonly Kind[] = MIX): Planned[] {
  const planned: Planned[] = [];
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length]!;
    const key = `${scenario}-${String(i + 1).padStart(4, '0')}`;
    switch (kind) {
      case 'question':
        planned.push({
          key,
          kind,
          requester: alloc.nextUser(),
          body: { catalogItemId: 'vpn-address', fields: { question: "What's the VPN server address?" } },
          expected: 'fulfilled',
        });
        break;
      case 'vpn-access':
        planned.push({
          key,
          kind,
          requester: alloc.nextUser(),
          body: { catalogItemId: 'vpn-access' },
          expected: 'fulfilled',
        });
        break;
      case 'finance-approved':
      case 'finance-denied':
        planned.push({
          key,
          kind,
          requester: alloc.nextUser(),
          body: { catalogItemId: 'financial-reporting', justification: `chaos ${key}` },
          expected: kind === 'finance-approved' ? 'fulfilled' : 'denied',
        });
        break;
      case 'monitor':
        planned.push({
          key,
          kind,
          requester: alloc.nextUser(),
          body: { catalogItemId: 'second-monitor', justification: `chaos ${key}` },
          expected: 'fulfilled',
        });
        break;
      case 'software': {
        const tool = alloc.nextTool();
        // The device with an agent is alice's: she asks for each package once.
        planned.push({
          key,
          kind,
          requester: 'alice',
          body: { catalogItemId: tool, deviceId: CHAOS_DEVICE },
          expected: 'fulfilled',
          tool,
        });
        break;
      }
      case 'feedback':
        planned.push({
          key,
          kind,
          requester: alloc.nextUser(),
          body: {
            catalogItemId: 'feedback',
            fields: { service: 'the new expense system', message: `chaos ${key}: confusing` },
          },
          expected: 'fulfilled',
        });
        break;
    }
  }
  return planned;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Submits every planned request; a retry with the same Idempotency-Key returns the same request. */
export async function submitAll(client: ChaosClient, planned: Planned[], concurrency = 8): Promise<void> {
  await pool(planned, concurrency, async (p) => {
    const res = await client.call('POST', '/api/requests', { as: p.requester, body: p.body, key: p.key });
    if (res.status !== 202)
      throw new Error(`submit ${p.key}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    p.id = (res.body as { id: string }).id;
  });
}

export type Row = Pick<typeof t.requests.$inferSelect, 'id' | 'status' | 'waitingOn' | 'steps'>;

export async function readRequests(db: DB, ids: string[]): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  // SQLite caps the number of bound parameters; a chunk stays well under it.
  for (let i = 0; i < ids.length; i += 500) {
    for (const r of await db
      .select({
        id: t.requests.id,
        status: t.requests.status,
        waitingOn: t.requests.waitingOn,
        steps: t.requests.steps,
      })
      .from(t.requests)
      .where(inArray(t.requests.id, ids.slice(i, i + 500))))
      rows.set(r.id, r);
  }
  return rows;
}

/**
 * The people: every pass reads where each request waits and acts once on each waiting thing.
 * An action whose answer was lost to a dying API is simply tried again: a decision or a task
 * already done answers 409, which counts as done.
 */
export class Driver {
  private readonly done = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private running = true;
  private loop: Promise<void> | undefined;
  actions = 0;
  /** Answers other than done (200) or done before (409), the first few: why a request got stuck. */
  readonly unexpected: string[] = [];

  constructor(
    private readonly client: ChaosClient,
    private readonly db: DB,
    private readonly planned: () => Planned[],
  ) {}

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        await this.pass();
        await sleep(300);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.inFlight.values());
  }

  private async pass(): Promise<void> {
    const byId = new Map(
      this.planned()
        .filter((p) => p.id)
        .map((p) => [p.id!, p]),
    );
    const rows = await readRequests(this.db, [...byId.keys()]);
    const todo: (() => Promise<void>)[] = [];
    for (const row of rows.values()) {
      if (isFinalStatus(row.status) || !row.waitingOn) continue;
      const p = byId.get(row.id)!;
      if (row.status === 'awaiting_approval' && row.waitingOn.who.includes('bob')) {
        const decision = p.kind === 'finance-denied' ? 'deny' : 'approve';
        todo.push(() =>
          this.once(`${row.id}:approval`, () =>
            this.client.call('POST', `/api/requests/${row.id}/approvals`, {
              as: 'bob',
              body: { decision, comment: 'chaos' },
            }),
          ),
        );
      }
    }
    const waitingOnTasks = [...rows.values()].filter(
      (r) => !isFinalStatus(r.status) && r.waitingOn?.what.startsWith('task '),
    );
    if (waitingOnTasks.length > 0) {
      const tasks = await this.db
        .select()
        .from(t.tasks)
        .where(
          inArray(
            t.tasks.requestId,
            waitingOnTasks.map((r) => r.id),
          ),
        );
      const open = tasks.filter((task) => task.state === 'open' || task.state === 'claimed');
      for (const task of open) {
        const outcome = task.outcomes?.[0] ?? 'done';
        const as = task.groupId === 'procurement' ? 'dave' : (task.assigneeId ?? 'dave');
        const resolution =
          outcome === 'delivered'
            ? `AT-${task.requestId}`
            : outcome === 'resolved'
              ? 'Thanks, noted.'
              : 'chaos';
        todo.push(() =>
          this.once(`task:${task.id}`, () =>
            this.client.call('POST', `/api/tasks/${task.id}/complete`, { as, body: { outcome, resolution } }),
          ),
        );
      }
    }
    await pool(todo, 8, (fn) => fn());
  }

  /**
   * Starts an action unless it is done or still under way, and does not wait for it: the
   * client retries a call until the scenario's deadline, and one call that never gets a
   * usable answer must not hold up every other person's action.
   */
  private async once(id: string, act: () => Promise<{ status: number; body: unknown }>): Promise<void> {
    // A bound like the pool's before: the next pass starts what is left out now.
    if (this.done.has(id) || this.inFlight.has(id) || this.inFlight.size >= 16) return;
    const call = this.attempt(id, act).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, call);
  }

  private async attempt(id: string, act: () => Promise<{ status: number; body: unknown }>): Promise<void> {
    try {
      const res = await act();
      // 200: done now; 409: done before (an answer lost to a dying API) or the request moved on.
      if (res.status === 200 || res.status === 409) {
        this.done.add(id);
        this.actions++;
      } else if (this.unexpected.length < 10) {
        this.unexpected.push(`${id}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      }
    } catch (err) {
      // No usable answer before the deadline (the client retried until then): say which.
      if (this.unexpected.length < 10) {
        this.unexpected.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
