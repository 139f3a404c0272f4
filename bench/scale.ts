/**
 * How big a run is: `BENCH_SCALE=full` (the default of `npm run bench`) or `smoke`
 * (`npm run bench:smoke`, CI's guard against a harness that rots).
 */
export interface Scale {
  name: 'full' | 'smoke';
  /** B1: requests per concurrency level. */
  throughput: { concurrency: number; requests: number }[];
  /** B2: submits timed one after another. */
  submits: number;
  /** B3: approvals timed one after another. */
  approvals: number;
  /** B4: the numbers of waiting requests at which the open work is measured. */
  openWork: number[];
  /**
   * B4: seconds the pile may take to grow (BENCH_FILL_SECONDS overrides); a level not reached in
   * time is measured where the pile stands and reported as not reached.
   */
  openWorkFillSeconds: number;
  /**
   * The whole run's time limit: B4's pile grows only as long as the run can still measure it,
   * stop the stack and stay within it, on a loaded machine too.
   */
  runSeconds: number;
  /** B4: reads per list whose p99 is taken. */
  listReads: number;
  /** B6: seconds autocannon runs against each target. */
  readSeconds: number;
}

const SCALES: Record<Scale['name'], Scale> = {
  full: {
    name: 'full',
    throughput: [
      { concurrency: 1, requests: 15 },
      { concurrency: 10, requests: 40 },
      { concurrency: 50, requests: 100 },
    ],
    submits: 15,
    approvals: 10,
    openWork: [1000, 10_000],
    openWorkFillSeconds: 360,
    runSeconds: 14 * 60,
    listReads: 200,
    readSeconds: 10,
  },
  smoke: {
    name: 'smoke',
    throughput: [
      { concurrency: 1, requests: 2 },
      { concurrency: 10, requests: 10 },
      { concurrency: 50, requests: 20 },
    ],
    submits: 3,
    approvals: 3,
    openWork: [20, 60],
    openWorkFillSeconds: 120,
    runSeconds: 5 * 60,
    listReads: 20,
    readSeconds: 2,
  },
};

export function scaleFromEnv(env: NodeJS.ProcessEnv = process.env): Scale {
  const name = env.BENCH_SCALE ?? 'full';
  if (name !== 'full' && name !== 'smoke') {
    throw new Error(`BENCH_SCALE must be "full" or "smoke", got "${name}"`);
  }
  const scale = SCALES[name];
  return {
    ...scale,
    openWorkFillSeconds: seconds(env, 'BENCH_FILL_SECONDS') ?? scale.openWorkFillSeconds,
    // A longer run than the 15 minutes the acceptance allows, for B4's 10,000 on a slow machine.
    runSeconds: seconds(env, 'BENCH_RUN_SECONDS') ?? scale.runSeconds,
  };
}

function seconds(env: NodeJS.ProcessEnv, variable: string): number | undefined {
  const raw = env[variable];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${variable} must be a positive integer, got "${raw}"`);
  return n;
}

/** People with a laptop the run needs: one per Visio request (a seat each), plus the warm-up and B5. */
export function peopleNeeded(s: Scale): number {
  return s.throughput.reduce((n, t) => n + t.requests, 0) + s.submits + 4;
}
