import type { Client } from '@temporalio/client';
import type { Env } from '../chaos/env.js';
import type { BenchPerson } from './fixture.js';
import type { BenchClient } from './http.js';
import type { Scale } from './scale.js';

/** What every benchmark gets: the running stack, its people and the baseline's task queue. */
export interface BenchContext {
  scale: Scale;
  stack: Env;
  temporal: Client;
  api: BenchClient;
  /** The next person nobody in this run has ordered Visio for yet. */
  nextPerson(): BenchPerson;
  /** People who already ordered (for requests that do not use up a seat). */
  requesters: () => BenchPerson[];
  bareTaskQueue: string;
  /** When the run must be done (epoch ms): see Scale.runSeconds. */
  runUntil: number;
  log(line: string): void;
}
