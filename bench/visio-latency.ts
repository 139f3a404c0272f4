/**
 * Visio latency on the embedded stack: `npm start` (scripts/stack.ts) on free ports and a
 * temporary DATA_DIR, then standard software requests one after the other (concurrency 1),
 * each measured from the request's `createdAt` (the workflow's start) to its `fulfilledAt`,
 * and the history each one leaves (events and bytes, as issue 14's B5 counts them).
 *
 *   npx tsx bench/visio-latency.ts [--runs 15] [--json out.json]
 *
 * Every run installs the real Visio package with its real install script on LAPTOP-ALICE:
 * the bench adds catalog items `bench-visio-N` (the `visio` package, a pool of one seat
 * each, so one laptop may hold them all) through the catalog files, and removes the
 * installed app from the laptop's install root between runs, as a person uninstalling it
 * would, so `detect` never short-cuts the install.
 */
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../runtime/config.js';
import { startNpmStart } from '../test/helpers/npm-start.js';

interface Step {
  name: string;
  state: string;
  startedAt: string;
  endedAt?: string;
}
interface Snapshot {
  id: string;
  status: string;
  createdAt: string;
  fulfilledAt: string | null;
  steps: Step[];
}
interface Run {
  id: string;
  /** createdAt → fulfilledAt, as the request itself records it. */
  fulfilledMs: number;
  /** POST sent → GET first showed `fulfilled` (includes the client's own poll interval). */
  observedMs: number;
  events: number;
  historyBytes: number;
  steps: { name: string; ms: number }[];
}

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    json: { type: 'string' },
    // Prints the last run's history event by event: gap since the previous event, bytes, type.
    events: { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const DEVICE = 'LAPTOP-ALICE';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (a: string, b: string) => Date.parse(b) - Date.parse(a);
/** A process's resident memory (Linux), for the record. */
const rssMb = (pid: number | null | undefined) => {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024);
  } catch {
    return undefined;
  }
};

/** A catalog that is the repository's plus one Visio item (and its own pool) per run. */
function benchCatalog(runs: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'reqflow-bench-catalog-'));
  cpSync(join(repoRoot, 'catalog'), join(dir, 'catalog'), { recursive: true });
  // The copied files name their packages relative to the checkout's catalog folder.
  symlinkSync(join(repoRoot, 'packages'), join(dir, 'packages'));
  const docs: string[] = [];
  for (let n = 1; n <= runs + 1; n++) {
    const id = `bench-visio-${n}`;
    docs.push(
      `kind: LicensePool\nid: ${id}\nproduct: Microsoft Visio (bench ${n})\nseats: 1\n`,
      [
        'kind: CatalogItem',
        `id: ${id}`,
        `name: Microsoft Visio (bench ${n})`,
        'type: standard_service',
        'category: Software',
        'description: Visio, for the latency bench.',
        'changeModel: standard',
        'package: visio',
        `licensePool: ${id}`,
        'allowedRoles: [engineer]',
        'formFields:',
        '  - name: deviceId',
        '    label: Device',
        '    type: device',
        '    required: true',
        'fulfillmentGroup: service-desk',
        'serviceOwner: olga',
        '',
      ].join('\n'),
    );
  }
  writeFileSync(join(dir, 'catalog', 'bench-visio.yaml'), docs.join('---\n'));
  return join(dir, 'catalog');
}

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** Events and bytes per event type, largest first; with `timeline`, every event too. */
function historyBreakdown(events: HistoryEvent[], timeline: boolean): string {
  const { HistoryEvent } = proto.temporal.api.history.v1;
  const { EventType } = proto.temporal.api.enums.v1;
  const byType = new Map<string, { n: number; bytes: number }>();
  const lines: string[] = [];
  let previous: number | undefined;
  for (const e of events) {
    const bytes = HistoryEvent.encode(e).finish().length;
    const type = EventType[e.eventType ?? 0] ?? String(e.eventType);
    const at = Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
    const what =
      e.activityTaskScheduledEventAttributes?.activityType?.name ??
      Object.keys(e.markerRecordedEventAttributes?.details ?? {}).join(',');
    if (timeline)
      lines.push(
        `${String(at - (previous ?? at)).padStart(5)} ms ${String(bytes).padStart(5)} B  ${type} ${what}`,
      );
    previous = at;
    const t = byType.get(type) ?? { n: 0, bytes: 0 };
    byType.set(type, { n: t.n + 1, bytes: t.bytes + bytes });
  }
  const table = [...byType]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([type, t]) => `${String(t.bytes).padStart(7)} B ${String(t.n).padStart(4)}x ${type}`);
  return [...lines, ...table].join('\n');
}

async function main(): Promise<void> {
  const catalogDir = benchCatalog(RUNS);
  const stack = await startNpmStart({ CATALOG_DIR: catalogDir, LOG_LEVEL: 'warn' });
  const connection = await Connection.connect({ address: stack.state()!.temporal.address });
  const client = new Client({ connection });
  try {
    // `npm start` is up once the API answers; the worker may still be bundling its workflows. The
    // first request is timed from when the worker polls (a request sent earlier waits for it).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: 'reqflow' },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (pollers?.length) break;
      if (Date.now() > deadline) throw new Error('the worker did not poll within 120 s');
      await sleep(100);
    }
    const api = stack.apiUrl;
    const login = await fetch(`${api}/api/dev/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'alice' }),
    });
    const { token } = (await login.json()) as { token: string };
    const auth = { authorization: `Bearer ${token}` };
    const appDir = join(stack.dataDir, 'devices', DEVICE, 'root', 'Applications', 'Microsoft Visio');

    const runs: Run[] = [];
    for (let n = 1; n <= RUNS + 1; n++) {
      rmSync(appDir, { recursive: true, force: true });
      const sent = Date.now();
      const res = await fetch(`${api}/api/requests`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `bench-${n}` },
        body: JSON.stringify({ catalogItemId: `bench-visio-${n}`, deviceId: DEVICE }),
      });
      if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
      const { id } = (await res.json()) as { id: string };
      let snap: Snapshot | undefined;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await fetch(`${api}/api/requests/${id}`, { headers: auth });
        snap = (await r.json()) as Snapshot;
        if (snap.status === 'fulfilled' || snap.status === 'failed' || snap.status === 'rejected') break;
        if (Date.now() > deadline) throw new Error(`${id} still ${snap.status} after 60 s`);
        await sleep(5);
      }
      const observedMs = Date.now() - sent;
      if (snap.status !== 'fulfilled') throw new Error(`${id} ended ${snap.status}`);
      // The projection says fulfilled a moment before the workflow task that ends the run completes.
      await client.workflow.getHandle(id).result();
      const history = await client.workflow.getHandle(id).fetchHistory();
      const run: Run = {
        id,
        fulfilledMs: ms(snap.createdAt, snap.fulfilledAt!),
        observedMs,
        events: history.events?.length ?? 0,
        historyBytes: proto.temporal.api.history.v1.History.encode(history).finish().length,
        steps: snap.steps.map((s) => ({ name: s.name, ms: s.endedAt ? ms(s.startedAt, s.endedAt) : -1 })),
      };
      runs.push(run);
      console.log(
        `${n === 1 ? 'first' : `run ${n - 1}`.padEnd(5)} ${id}: ${run.fulfilledMs} ms (observed ${observedMs} ms), ` +
          `${run.events} events, ${run.historyBytes} B; ` +
          run.steps.map((s) => `${s.name} ${s.ms}`).join(', '),
      );
    }
    if (args.events) {
      const first = await client.workflow.getHandle(runs[0]!.id).fetchHistory();
      console.log(`first run:\n${historyBreakdown(first.events ?? [], true)}\nlast run:`);
    }
    const last = await client.workflow.getHandle(runs.at(-1)!.id).fetchHistory();
    console.log(historyBreakdown(last.events ?? [], args.events));
    const [first, ...warm] = runs;
    const summary = {
      machine: `${cpus().length} cores`,
      runs: warm.length,
      firstMs: first!.fulfilledMs,
      p50Ms: median(warm.map((r) => r.fulfilledMs)),
      maxMs: Math.max(...warm.map((r) => r.fulfilledMs)),
      observedP50Ms: median(warm.map((r) => r.observedMs)),
      events: median(warm.map((r) => r.events)),
      historyBytes: median(warm.map((r) => r.historyBytes)),
      workerRssMb: rssMb(stack.state()?.processes.worker?.pid),
    };
    console.log(JSON.stringify(summary));
    if (args.json) writeFileSync(args.json, JSON.stringify({ summary, runs }, null, 2));
  } finally {
    await connection.close();
    await stack.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
