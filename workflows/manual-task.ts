import { ApplicationFailure, condition, defineUpdate, setHandler } from '@temporalio/workflow';
import { acts } from './activity-proxies.js';
import type { RequestSnapshot, RequestStep } from '../domain/request.js';
import type { RequestStatus } from '../domain/status.js';
import type { RequestTracker } from './request-tracker.js';

export interface TaskCompletion {
  taskId: string;
  outcome: string;
  /** What the person wrote: an answer, a reason, a serial number. */
  resolution?: string;
  completedBy: string;
}

/**
 * A person finished a task the workflow waits for. An update rather than a signal or
 * async activity completion: the validator refuses a task this request does not wait
 * for, or an outcome it does not accept, before anything reaches the history, and
 * the person completing it learns at once that it counted (or gets a 409).
 */
export const completeTaskUpdate = defineUpdate<RequestSnapshot, [TaskCompletion]>('completeTask');

export const TASK_NOT_AWAITED = 'TaskNotAwaited';
export const TASK_OUTCOME_REFUSED = 'TaskOutcomeRefused';

export interface TaskSpec {
  /** Unique per request and purpose, e.g. 'answer' or 'delivery'. */
  key: string;
  groupId: string;
  title: string;
  description: string;
  /** Outcomes the person may choose; the first is the "done" one. */
  outcomes: string[];
  /** The step shown in steps[] while the task is open. */
  step: string;
  /** Status while waiting (default awaiting_task). */
  status?: RequestStatus;
  /** Assign it to this person from the start (they may act on it without being in the group). */
  assigneeId?: string;
  /** Give up after this long (e.g. '14d'): the task is cancelled and run() returns undefined. */
  timeout?: string;
}

interface OpenTask {
  spec: TaskSpec;
  step: RequestStep;
  done?: TaskCompletion;
}

/**
 * Human steps for every request type: opens a task for a fulfillment group and waits
 * (a durable wait, no polling) until a member completes it through the API.
 */
export class ManualTasks {
  private readonly open = new Map<string, OpenTask>();

  constructor(
    private readonly tracker: RequestTracker,
    private readonly requestId: string,
  ) {
    setHandler(completeTaskUpdate, (c: TaskCompletion) => this.complete(c), {
      validator: (c: TaskCompletion) => {
        const task = this.open.get(c.taskId);
        if (!task || task.done) {
          throw ApplicationFailure.create({
            type: TASK_NOT_AWAITED,
            message: `Task ${c.taskId} is not open on request ${this.requestId}.`,
          });
        }
        if (!task.spec.outcomes.includes(c.outcome)) {
          throw ApplicationFailure.create({
            type: TASK_OUTCOME_REFUSED,
            message: `Outcome "${c.outcome}" is not one of: ${task.spec.outcomes.join(', ')}.`,
          });
        }
      },
    });
  }

  /** Opens the task and returns once a member of the group has completed it (undefined: timed out). */
  async run(spec: TaskSpec & { timeout: string }): Promise<TaskCompletion | undefined>;
  async run(spec: TaskSpec): Promise<TaskCompletion>;
  async run(spec: TaskSpec): Promise<TaskCompletion | undefined> {
    // The id is made here, not by the activity, so the task is open for completion
    // before anyone can see it: a person quick enough to complete it at once is not refused.
    const taskId = `TASK-${this.requestId.replace(/^REQ-/, '')}${spec.key.toUpperCase().replace(/[^0-9A-Z]/g, '')}`;
    const task: OpenTask = { spec, step: undefined as unknown as RequestStep };
    this.open.set(taskId, task);
    await acts.openManualTask({
      id: taskId,
      key: `${this.requestId}:${spec.key}`,
      requestId: this.requestId,
      groupId: spec.groupId,
      title: spec.title,
      description: spec.description,
      outcomes: spec.outcomes,
      awaited: true,
      ...(spec.assigneeId ? { assigneeId: spec.assigneeId } : {}),
    });
    const who = spec.assigneeId ? `${spec.assigneeId} (${spec.groupId})` : spec.groupId;
    task.step = await this.tracker.startStep(
      spec.step,
      'human',
      `Task ${taskId} for ${who}: ${spec.title}.`,
      'waiting',
    );
    await this.tracker.enterWait(spec.status ?? 'awaiting_task', () =>
      this.tracker.setWaitingOn(`task ${taskId}: ${spec.title}`, [
        spec.assigneeId ?? `group:${spec.groupId}`,
      ]),
    );
    const clock = this.tracker.stepClock(spec.step);
    const completed = spec.timeout
      ? await condition(() => task.done !== undefined, spec.timeout)
      : await condition(() => task.done !== undefined).then(() => true);
    this.open.delete(taskId);
    clock.stop();
    await this.tracker.setWaitingOn(null);
    if (!completed) {
      await acts.cancelManualTask({ taskId });
      await this.tracker.updateStep(task.step, {
        state: 'failed',
        detail: `Task ${taskId} was not completed within ${spec.timeout}.`,
      });
      return undefined;
    }
    const done = task.done!;
    await this.tracker.updateStep(task.step, {
      state: 'completed',
      detail: `Task ${taskId} completed by ${done.completedBy}: ${done.outcome}${done.resolution ? ` (${done.resolution})` : ''}.`,
    });
    return done;
  }

  /** Cancels every task still open (the request was cancelled). */
  async cancelOpen(): Promise<void> {
    for (const [taskId, task] of this.open) {
      await acts.cancelManualTask({ taskId });
      if (task.step)
        await this.tracker.updateStep(task.step, { state: 'failed', detail: `Task ${taskId} cancelled.` });
    }
    this.open.clear();
  }

  private async complete(c: TaskCompletion): Promise<RequestSnapshot> {
    const task = this.open.get(c.taskId)!;
    task.done = c;
    await acts.recordTaskCompletion(c);
    return this.tracker.snapshot;
  }
}
