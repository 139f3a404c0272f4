import {
  allHandlersFinished,
  condition,
  defineQuery,
  defineUpdate,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { Approval, RequestOutcome, RequestSnapshot, RequestStep } from '../domain/request.js';
import type { RequestStatus, RequestType, StepKind, StepState } from '../domain/status.js';
import type { SlaPolicy } from '../domain/sla.js';
import {
  CatalogItemKey,
  RequesterKey,
  RequestStatusKey,
  RequestTypeKey,
  WaitingOnKey,
} from '../domain/temporal.js';
import { startSlaClock } from './sla.js';

// The projection write is local: it is a quick SQLite upsert on the worker's own
// database, and a local activity costs no extra task round trip per step.
const { syncRequest } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', maximumInterval: '10s' },
});
const { recordAudit } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});
const { recordAudit: recordAuditLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

/**
 * An audit writer for one request: the trail links every grant (software, license
 * seat, group membership) to the decision that allowed it. Keyed by request and
 * action, so a replayed or retried step appends once. `local` writes it as a local
 * activity (a lean run, see RequestTracker).
 */
export function auditorFor(requestId: string, subject: string, keySuffix = '', local = false) {
  const record = local ? recordAuditLocally : recordAudit;
  return (action: string, details: Record<string, unknown>, actor = 'reqflow') =>
    record({ key: `${requestId}:${action}${keySuffix}`, actor, action, requestId, subject, details });
}

export interface TrackedRequest {
  requestId: string;
  /** Service-level targets from the catalog item; no clocks run without them. */
  sla?: SlaPolicy;
  type: RequestType;
  catalogItemId: string;
  catalogItemVersion?: number;
  requester: string;
  beneficiary: string;
  deviceId?: string;
  justification?: string;
  parentId?: string;
}

/** The request as the workflow sees it now; every request workflow answers it. */
export const statusQuery = defineQuery<RequestSnapshot>('status');

/**
 * Early return for POST /api/requests: completes once the request is admitted,
 * refused, or parked (waiting for approval or a seat), so the portal shows the
 * answer in the same HTTP call when it comes quickly.
 */
export const admissionUpdate = defineUpdate<RequestSnapshot>('admission');

/** What updateStep and noteStep change: the step's state and note, and whom the request awaits. */
interface StepChange {
  state?: StepState;
  detail?: string;
  waitingOn?: { what: string | null; who?: string[] };
}

/** `Date.now()` in a workflow is the deterministic workflow-task time. */
const nowIso = () => new Date(Date.now()).toISOString();

const waitingOnOf = (what: string | null, who: string[] = []): RequestSnapshot['waitingOn'] =>
  what === null ? null : { what, who, since: nowIso() };

export interface TrackerOptions {
  /**
   * A lean run (new runs of the automated paths, behind a patch): a step that completes is
   * projected with the next publish rather than on its own (the next status change, wait or
   * the end, which follow within milliseconds on these paths; every wait publishes), and a
   * publish upserts only the search attributes whose values changed. The Temporal UI still
   * shows each step, as its activity or local-activity marker. Runs without it replay as
   * they were recorded.
   */
  lean?: boolean;
}

/**
 * Keeps a request's status, steps and approvals, shared by every request workflow.
 * Each change bumps the version, updates the search attributes operators filter on
 * and projects the snapshot into the requests table.
 */
export class RequestTracker {
  readonly snapshot: RequestSnapshot;
  private readonly requestClock: { stop(): void } | undefined;
  private admitted = false;
  private readonly lean: boolean;
  /** A lean run's projection writes still running (see publish). */
  private readonly projecting: Promise<void>[] = [];

  constructor(
    private readonly req: TrackedRequest,
    options: TrackerOptions = {},
  ) {
    this.lean = options.lean === true;
    const at = new Date(workflowInfo().startTime).toISOString();
    this.snapshot = {
      id: req.requestId,
      type: req.type,
      catalogItemId: req.catalogItemId,
      requester: req.requester,
      beneficiary: req.beneficiary,
      status: 'submitted',
      steps: [],
      waitingOn: null,
      approvals: [],
      outcome: null,
      version: 0,
      createdAt: at,
      updatedAt: at,
      fulfilledAt: null,
    };
    setHandler(statusQuery, () => this.snapshot);
    setHandler(admissionUpdate, async () => {
      await condition(() => this.admitted);
      return this.snapshot;
    });
    this.requestClock = req.sla ? this.clock('request', req.sla.request) : undefined;
  }

  /** The first answer is known (admitted, refused or parked): the waiting POST may return. */
  admit(): void {
    this.admitted = true;
  }

  get status(): RequestStatus {
    return this.snapshot.status;
  }

  async setStatus(status: RequestStatus): Promise<void> {
    if (this.snapshot.status === status) return;
    this.snapshot.status = status;
    if (status === 'fulfilled') this.snapshot.fulfilledAt = nowIso();
    await this.publish();
  }

  /**
   * Moves to a waiting status in the same publish as `publishWait` (which says who is
   * awaited), so nobody reads "awaiting …" with nobody named: a reader polling for the
   * status could otherwise see it one publish before the wait. Histories from before
   * published the status on its own; the patch keeps them replaying.
   */
  async enterWait<T>(status: RequestStatus, publishWait: () => Promise<T>): Promise<T> {
    if (patched('status-with-its-wait')) this.snapshot.status = status;
    else await this.setStatus(status);
    return publishWait();
  }

  /** Opens a step of the given kind (who or what does it) and returns it so the caller can finish it. */
  async startStep(
    name: string,
    kind: StepKind,
    detail?: string,
    state: StepState = 'running',
    attempt?: number,
  ): Promise<RequestStep> {
    const step: RequestStep = { name, kind, state, startedAt: nowIso() };
    if (detail !== undefined) step.detail = detail;
    if (attempt !== undefined) step.attempt = attempt;
    this.snapshot.steps.push(step);
    // A running step is published when it ends (with its start time): activities take
    // milliseconds, and publishing both edges would double the history for nothing.
    // Waits (device, CAB, seat) are published at once so a person sees what is awaited.
    if (state !== 'running') await this.publish();
    return step;
  }

  /**
   * Changes a step; `waitingOn` (see setWaitingOn) changes in the same publish, so a
   * step ending and what the request now waits for never cost two commands.
   */
  async updateStep(step: RequestStep, change: StepChange): Promise<void> {
    this.noteStep(step, change);
    await this.publish();
  }

  /**
   * Changes a step as updateStep does, without publishing: the next publish carries it. For a
   * step whose end is followed within milliseconds by another publish on an automated path.
   */
  noteStep(step: RequestStep, change: StepChange): void {
    if (change.state) step.state = change.state;
    if (change.detail !== undefined) step.detail = change.detail;
    if (change.waitingOn) this.snapshot.waitingOn = waitingOnOf(change.waitingOn.what, change.waitingOn.who);
    if (change.state && change.state !== 'running' && change.state !== 'waiting') step.endedAt = nowIso();
  }

  /**
   * Runs `fn` (an activity: an `automated` step) as a step: completed with `detail(result)`
   * on success, failed with the error's message otherwise.
   */
  async step<T>(
    name: string,
    fn: () => Promise<T>,
    detail?: (result: T) => string,
    attempt?: number,
  ): Promise<T> {
    const step = await this.startStep(name, 'automated', undefined, 'running', attempt);
    try {
      const result = await fn();
      if (this.lean) {
        // Carried by the next publish; see TrackerOptions.lean.
        step.state = 'completed';
        if (detail) step.detail = detail(result);
        step.endedAt = nowIso();
        return result;
      }
      await this.updateStep(step, { state: 'completed', ...(detail ? { detail: detail(result) } : {}) });
      return result;
    } catch (err) {
      await this.updateStep(step, { state: 'failed', detail: messageOf(err) });
      throw err;
    }
  }

  /** Opens a waiting step and says what the request waits for, in one publish. */
  async startWait(
    name: string,
    kind: StepKind,
    detail: string,
    waitingOn: { what: string; who: string[] },
    attempt?: number,
  ): Promise<RequestStep> {
    this.snapshot.waitingOn = waitingOnOf(waitingOn.what, waitingOn.who);
    return this.startStep(name, kind, detail, 'waiting', attempt);
  }

  /** Says what the request waits for and on whom (null when it waits on nobody). */
  async setWaitingOn(what: string | null, who: string[] = []): Promise<void> {
    this.snapshot.waitingOn = waitingOnOf(what, who);
    await this.publish();
  }

  /**
   * Narrows who the request waits on without publishing; the next publish (e.g. addApproval)
   * carries it. The "what" and "since" stay: the wait is the same, fewer people are in it.
   */
  noteWaitingOn(who: string[]): void {
    if (this.snapshot.waitingOn) this.snapshot.waitingOn = { ...this.snapshot.waitingOn, who };
  }

  /** An SLA clock for one human step (approval, task); stop it when the step ends. */
  stepClock(step: string): { stop(): void } {
    const target = this.req.sla?.humanStep;
    return target ? this.clock(step, target) : { stop: () => undefined };
  }

  private clock(scope: string, target: string): { stop(): void } {
    return startSlaClock({
      requestId: this.req.requestId,
      scope,
      target,
      warnBefore: this.req.sla!.warnBefore,
      snapshot: () => this.snapshot,
      paused: () => this.waitingOnRequester,
      record: async (name, detail) => {
        // A mark the clock sets (warning, breach), not work anybody does.
        const step = await this.startStep(name, 'automated', detail, 'waiting');
        await this.updateStep(step, { state: name === 'sla_breach' ? 'failed' : 'completed' });
      },
    });
  }

  /** Whether the request waits on the requester (SLA clocks pause then). */
  get waitingOnRequester(): boolean {
    return this.snapshot.waitingOn?.who.includes(this.req.requester) === true;
  }

  async addApproval(approval: Approval): Promise<void> {
    this.snapshot.approvals.push(approval);
    await this.publish();
  }

  async finish(status: RequestStatus, outcome: RequestOutcome): Promise<RequestSnapshot> {
    this.requestClock?.stop();
    this.admitted = true;
    this.snapshot.outcome = outcome;
    this.snapshot.waitingOn = null;
    this.snapshot.status = status;
    if (status === 'fulfilled') this.snapshot.fulfilledAt = nowIso();
    await this.publish();
    await Promise.all(this.projecting.splice(0));
    // An update taken just before the end (a task completed, an approval recorded) may
    // still be writing its record. Ending now would abandon that write and answer its
    // caller "workflow already completed" although the update counted. Nothing waits
    // here unless a handler is still running, so runs that ended before keep their commands.
    await condition(allHandlersFinished);
    return this.snapshot;
  }

  private async publish(): Promise<void> {
    this.snapshot.version += 1;
    this.snapshot.updatedAt = nowIso();
    const attributes: SearchAttributeUpdatePair[] = [
      { key: RequestTypeKey, value: this.snapshot.type },
      { key: RequestStatusKey, value: this.snapshot.status },
      { key: CatalogItemKey, value: this.snapshot.catalogItemId },
      { key: RequesterKey, value: this.snapshot.requester },
      // Null removes the attribute: nobody is awaited.
      { key: WaitingOnKey, value: this.snapshot.waitingOn?.who.length ? this.snapshot.waitingOn.who : null },
    ];
    if (!this.lean) upsertSearchAttributes(attributes);
    else {
      // The API sets the first four at start; an upsert carries only what changed since.
      const current = workflowInfo().typedSearchAttributes;
      const changed = attributes.filter(
        ({ key, value }) => JSON.stringify(current.get(key) ?? null) !== JSON.stringify(value),
      );
      if (changed.length > 0) upsertSearchAttributes(changed);
    }
    const projected = syncRequest({
      snapshot: JSON.parse(JSON.stringify(this.snapshot)) as RequestSnapshot,
      runId: workflowInfo().runId,
      ...(this.req.deviceId ? { deviceId: this.req.deviceId } : {}),
      ...(this.req.justification ? { justification: this.req.justification } : {}),
      ...(this.req.parentId ? { parentId: this.req.parentId } : {}),
      ...(this.req.catalogItemVersion ? { catalogItemVersion: this.req.catalogItemVersion } : {}),
    });
    if (!this.lean) return projected;
    // A lean run goes on while the write runs (beside the next step's activity, in the same
    // workflow activation): each write carries its version, so an older one never overwrites
    // a newer. The run awaits them all before it ends (finish).
    this.projecting.push(projected);
  }
}

/** The human-readable message of an activity failure (its cause carries the ApplicationFailure). */
export function messageOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && 'cause' in e && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** The ApplicationFailure type behind an activity failure, if any. */
export function failureType(err: unknown): string | undefined {
  let e: unknown = err;
  while (e instanceof Error) {
    if ('type' in e && typeof e.type === 'string') return e.type;
    e = 'cause' in e ? e.cause : undefined;
  }
  return undefined;
}
