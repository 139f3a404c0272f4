/**
 * The baseline the benchmarks divide by: bare workflows on the same Temporal server that run
 * as many activities and local activities as a reqflow request does, each doing nothing.
 */
import {
  condition,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { createBareActivities } from './activities.js';

type Activities = ReturnType<typeof createBareActivities>;

const { nothing } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute' });
const { nothing: nothingLocally } = proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute' });

export interface BareShape {
  activities: number;
  localActivities: number;
  /** Wait for `approveUpdate` before the steps (B3's baseline). */
  awaitApproval?: boolean;
}

/** Answered at once: the baseline of reqflow's admission update (B2). */
export const admittedUpdate = defineUpdate<string>('admitted');
/** A decision arriving: the baseline of an approval (B3). */
export const approveUpdate = defineUpdate<void>('approve');

/** The steps of a request without their work, local and remote interleaved as a request's are. */
export async function bareRequest(shape: BareShape): Promise<void> {
  let approved = false;
  setHandler(admittedUpdate, () => 'admitted');
  setHandler(approveUpdate, () => {
    approved = true;
  });
  if (shape.awaitApproval) await condition(() => approved);
  const steps = Math.max(shape.activities, shape.localActivities);
  for (let i = 0; i < steps; i++) {
    if (i < shape.localActivities) await nothingLocally();
    if (i < shape.activities) await nothing();
  }
}
