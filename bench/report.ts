/** The run's figures as a Markdown table, each target with its verdict. */
import type { ThroughputLevel } from './b1-throughput.js';
import type { SubmitResult } from './b2-submit.js';
import type { ApprovalResult } from './b3-approval.js';
import type { OpenWorkResult } from './b4-open-work.js';
import type { HistoryRow } from './b5-history.js';
import type { ReadResult } from './b6-read-path.js';

export interface BenchResults {
  scale: string;
  startedAt: string;
  seconds: number;
  machine: { cpus: number; node: string; loadAverage: { start: number[]; end: number[] } };
  visio: { firstAfterStartMs: number; fulfilledP50AtC1: number };
  b1: ThroughputLevel[];
  b2: SubmitResult;
  b3: ApprovalResult;
  b4: OpenWorkResult;
  b5: HistoryRow[];
  b6: ReadResult;
  targets: Target[];
}

export interface Target {
  what: string;
  goal: string;
  value: string;
  met: boolean;
}

const ms = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} ms` : '—');
const num = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export function targetsOf(r: Omit<BenchResults, 'targets'>): Target[] {
  const c50 = r.b1.find((l) => l.concurrency === 50);
  const last = r.b4.levels.at(-1)!;
  const goal = r.scale === 'full' ? 10_000 : last.target;
  const at = last.waiting >= goal ? `${last.waiting}` : `${last.waiting} (${goal} not reached)`;
  const reached = last.waiting >= goal;
  const std = r.b5.find((h) => h.type === 'standard_service');
  return [
    {
      what: 'Visio submit → fulfilled p50 at c=1',
      goal: '< 300 ms',
      value: ms(r.visio.fulfilledP50AtC1),
      met: r.visio.fulfilledP50AtC1 < 300,
    },
    {
      what: 'first Visio after start',
      goal: '< 1000 ms',
      value: ms(r.visio.firstAfterStartMs),
      met: r.visio.firstAfterStartMs < 1000,
    },
    { what: 'B1 ratio at c=50', goal: '≥ 0.8', value: num(c50?.ratio ?? NaN), met: (c50?.ratio ?? 0) >= 0.8 },
    { what: 'B2 submit p50 / bare', goal: '≤ 1.2×', value: `${num(r.b2.ratio)}×`, met: r.b2.ratio <= 1.2 },
    { what: 'B3 approve p50 / bare', goal: '≤ 1.3×', value: `${num(r.b3.ratio)}×`, met: r.b3.ratio <= 1.3 },
    {
      what: `B4 worker RSS at ${at} waiting`,
      goal: '< 500 MB',
      value: `${num(last.workerRssMb, 0)} MB`,
      met: reached && last.workerRssMb < 500,
    },
    {
      what: `B4 p99 first page of GET /api/approvals at ${at}`,
      goal: '< 50 ms',
      value: ms(last.approvalsP99),
      met: reached && last.approvalsP99 < 50,
    },
    {
      what: `B4 p99 first page of GET /api/requests at ${at}`,
      goal: '< 50 ms',
      value: ms(last.requestsP99),
      met: reached && last.requestsP99 < 50,
    },
    {
      what: 'B5 standard request history bytes / before',
      goal: '≤ 0.5',
      value: num(std?.ratio ?? NaN),
      met: (std?.ratio ?? Infinity) <= 0.5,
    },
  ];
}

export function markdown(r: BenchResults): string {
  const rows: string[][] = [];
  for (const l of r.b1) {
    rows.push([
      `B1 throughput c=${l.concurrency} (${l.requests} Visio)`,
      `${num(l.reqflow.perSecond)}/s; submit → fulfilled p50 ${ms(l.reqflow.fulfilled.p50)}, p99 ${ms(l.reqflow.fulfilled.p99)}`,
      `${num(l.bare.perSecond)}/s; start → closed p50 ${ms(l.bare.closed.p50)}, p99 ${ms(l.bare.closed.p99)}`,
      num(l.ratio),
    ]);
  }
  rows.push([
    'B2 POST /api/requests (early return)',
    `p50 ${ms(r.b2.reqflow.p50)}, p99 ${ms(r.b2.reqflow.p99)}`,
    `update-with-start p50 ${ms(r.b2.bare.p50)}, p99 ${ms(r.b2.bare.p99)}`,
    `${num(r.b2.ratio)}×`,
  ]);
  rows.push([
    'B3 approve → fulfilled',
    `p50 ${ms(r.b3.reqflow.closed.p50)}, p99 ${ms(r.b3.reqflow.closed.p99)}`,
    `update + ${r.b3.shape.activities} activities, ${r.b3.shape.localActivities} local: p50 ${ms(r.b3.bare.p50)}, p99 ${ms(r.b3.bare.p99)}`,
    `${num(r.b3.ratio)}×`,
  ]);
  for (const l of r.b4.levels) {
    rows.push([
      `B4 ${l.waiting}${l.waiting < l.target ? ` (of ${l.target})` : ''} waiting for approval (filled at ${num(l.fillPerSecond, 1)}/s)`,
      `worker ${num(l.workerRssMb, 0)} MB; p99 approvals ${ms(l.approvalsP99)}, requests ${ms(l.requestsP99)}`,
      `none waiting: ${num(r.b4.empty.workerRssMb, 0)} MB; ${ms(r.b4.empty.approvalsP99)}, ${ms(r.b4.empty.requestsP99)}`,
      `RSS ${num(l.workerRssMb / r.b4.empty.workerRssMb)}×`,
    ]);
  }
  rows.push([
    'B4 growth (first → last level)',
    `RSS ${r.b4.growth.rss}; approvals ${r.b4.growth.approvals}; requests ${r.b4.growth.requests}`,
    '',
    '',
  ]);
  for (const h of r.b5) {
    const b = h.ratio;
    rows.push([
      `B5 history ${h.type} (${h.catalogItemId})`,
      `${h.events} events, ${h.bytes} bytes (${h.activities} activities, ${h.localActivities} local)`,
      h.before ? `before: ${h.before.events} events, ${h.before.bytes} bytes` : 'no recorded before',
      num(b),
    ]);
  }
  rows.push([
    'B6 GET /api/requests/:id (autocannon, 10 connections)',
    `${num(r.b6.reqflow.perSecond, 0)}/s; p50 ${ms(r.b6.reqflow.p50)}, p99 ${ms(r.b6.reqflow.p99)}`,
    `bare Fastify ${num(r.b6.bare.perSecond, 0)}/s; p50 ${ms(r.b6.bare.p50)}, p99 ${ms(r.b6.bare.p99)}`,
    num(r.b6.ratio),
  ]);
  const table = (head: string[], body: string[][]) =>
    [
      `| ${head.join(' | ')} |`,
      `| ${head.map(() => '---').join(' | ')} |`,
      ...body.map((row) => `| ${row.join(' | ')} |`),
    ].join('\n');
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  return [
    `reqflow bench (${r.scale}), ${r.startedAt}, ${r.machine.cpus} cores, Node ${r.machine.node}; load average ${load(r.machine.loadAverage.start)} at start, ${load(r.machine.loadAverage.end)} at the end; ${Math.round(r.seconds)} s`,
    '',
    table(['benchmark', 'reqflow', 'baseline (same run, same server)', 'ratio'], rows),
    '',
    table(
      ['target', 'goal', 'this run', 'verdict'],
      r.targets.map((t) => [t.what, t.goal, t.value, t.met ? 'pass' : 'miss']),
    ),
  ].join('\n');
}
