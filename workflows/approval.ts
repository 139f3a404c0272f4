import { toMs } from '../domain/duration.js';
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  defineUpdate,
  isCancellation,
  setHandler,
} from '@temporalio/workflow';
import { acts } from './activity-proxies.js';
import type {
  ApprovalPolicy,
  ApproverDeactivation,
  DecisionInput,
  ResolvedLevel,
} from '../domain/approval.js';
import type { Approval, RequestInputBase, RequestSnapshot, RequestStep } from '../domain/request.js';
import type { RequestTracker } from './request-tracker.js';

/**
 * A decision on the request's current approval level. An update, not a signal, so
 * the validator refuses a caller who is not a pending approver before anything is
 * written to the history, and the caller learns at once whether it counted.
 */
export const decideUpdate = defineUpdate<RequestSnapshot, [DecisionInput]>('decide');

/**
 * The directory deactivated someone: if the request waits for their decision, it moves to
 * the next eligible person up their management chain. A signal, not an update: the
 * directory change has happened and is not the workflow's to refuse, and a request that
 * does not wait on that person simply ignores it, so sending it again is harmless.
 */
export const approverDeactivatedSignal = defineSignal<[ApproverDeactivation]>('approverDeactivated');

/**
 * Routes `decideUpdate` to whichever gate is open. Registered once at workflow start,
 * so a decision sent while no level waits is refused by the validator (409), not lost.
 */
export function handleDecisions(currentGate: () => ApprovalGate | undefined): void {
  setHandler(decideUpdate, (d: DecisionInput) => currentGate()!.apply(d), {
    validator: (d: DecisionInput) => {
      const gate = currentGate();
      if (!gate)
        throw ApplicationFailure.create({
          type: NOT_AWAITING,
          message: 'The request is not awaiting approval.',
        });
      gate.validate(d);
    },
  });
}

/**
 * A request's approvals: registers the `decide` handler once at workflow start and
 * runs one gate at a time. The request is admitted (the waiting POST answers) as soon
 * as the approvers are asked, so the portal can say "waiting for Erin" at once.
 */
export class Approvals {
  private gate: ApprovalGate | undefined;

  constructor(private readonly tracker: RequestTracker) {
    handleDecisions(() => this.gate);
    // Between levels nobody waits on anyone: the next level's resolveApprovers reads the
    // directory and skips the inactive person itself.
    setHandler(approverDeactivatedSignal, (d: ApproverDeactivation) => this.gate?.approverDeactivated(d));
  }

  /** Runs the item's approval policy for the request. */
  async seek(
    input: RequestInputBase,
    item: { itemName: string; approvalPolicy: ApprovalPolicy },
  ): Promise<ApprovalResult> {
    const gate = new ApprovalGate(this.tracker, {
      requestId: input.requestId,
      requester: input.requester,
      beneficiary: input.beneficiary,
      catalogItemId: input.catalogItemId,
      ...(input.catalogItemVersion ? { catalogItemVersion: input.catalogItemVersion } : {}),
      itemName: item.itemName,
      ...(input.justification ? { justification: input.justification } : {}),
      policy: item.approvalPolicy,
      timing: input.approval,
    });
    this.gate = gate;
    const running = gate.run();
    await Promise.race([running, condition(() => gate.awaitingDecision)]);
    this.tracker.admit();
    try {
      return await running;
    } finally {
      this.gate = undefined;
    }
  }
}

/** Reminder, escalation and expiry, each counted from the start of a level. */
export interface ApprovalTiming {
  remindAfter: string;
  escalateAfter: string;
  expireAfter: string;
}

export interface ApprovalRequest {
  requestId: string;
  requester: string;
  beneficiary: string;
  catalogItemId: string;
  catalogItemVersion?: number;
  itemName: string;
  justification?: string;
  policy: ApprovalPolicy;
  timing: ApprovalTiming;
}

export type ApprovalResult =
  | { outcome: 'approved'; decisions: Approval[] }
  | { outcome: 'denied'; decision: Approval }
  | { outcome: 'expired'; level: string };

/**
 * The audit actor of a request's approval: everyone who decided it, the person who acted
 * (a delegate, not the approver they stood in for; the decisions carry `onBehalfOf`).
 */
export function decidersOf(approvals: Approval[]): string {
  return [...new Set(approvals.map((a) => a.approver))].join(',') || 'reqflow';
}

// Failure types the API maps to HTTP statuses (403, 409).
export const NOT_AWAITING = 'NotAwaitingApproval';
export const NOT_APPROVER = 'NotApprover';
export const SELF_APPROVAL = 'SelfApproval';
export const ALREADY_DECIDED = 'AlreadyDecided';

interface OpenLevel {
  resolved: ResolvedLevel;
  kind: Approval['kind'];
  approvers: Set<string>;
  approvals: Approval[];
  decided: Set<string>;
  /** The people who decided (a delegate, not the approver they acted for). */
  voters: Set<string>;
  denial?: Approval;
  step: RequestStep;
}

const nowIso = () => new Date(Date.now()).toISOString();

/**
 * The approval building block: runs a policy level by level (manager, owner, a group
 * with a quorum), with reminders, escalation to the approver's manager and expiry as
 * durable timers. Every request workflow that needs a human decision uses it.
 */
export class ApprovalGate {
  private level: OpenLevel | undefined;
  private levelIndex = 0;
  /** Approvers were asked and the waiting step is visible. */
  private asked = false;
  /** Approvers the directory deactivated, waiting for the level loop to move their part on. */
  private readonly departures: ApproverDeactivation[] = [];

  constructor(
    private readonly tracker: RequestTracker,
    private readonly req: ApprovalRequest,
  ) {}

  /** True while a level waits for decisions: the request can then answer "waiting for <approvers>". */
  get awaitingDecision(): boolean {
    return this.asked;
  }

  /** Update validator: synchronous, changes nothing, throws for a decision that may not count. */
  validate(d: DecisionInput): void {
    const level = this.level;
    if (!level)
      throw ApplicationFailure.create({
        type: NOT_AWAITING,
        message: 'The request is not awaiting approval.',
      });
    const actor = d.decidedBy ?? d.approver;
    // The rule "nobody decides a request that benefits them" lives here: the API only says who
    // acts (decidedBy) and for whom (approver). A delegate who benefits may not decide for the
    // approver, nor a delegate for an approver who benefits: delegation works in neither direction.
    const interested = [this.req.requester, this.req.beneficiary];
    if (interested.includes(actor) || interested.includes(d.approver)) {
      throw ApplicationFailure.create({
        type: SELF_APPROVAL,
        message:
          actor === d.approver
            ? 'Nobody may approve or deny a request they made or that is for them.'
            : `${actor} may not decide for ${d.approver}: nobody decides a request they made or that is for them, not even through a delegation.`,
      });
    }
    if (!level.approvers.has(d.approver)) {
      throw ApplicationFailure.create({
        type: NOT_APPROVER,
        message: `${d.approver} is not a pending approver.`,
      });
    }
    // Decided by someone else (quorum reached, or denied) but the level loop has not closed it yet.
    const settled = level.denial !== undefined || level.approvals.length >= level.resolved.required;
    if (level.decided.has(d.approver) || settled) {
      throw ApplicationFailure.create({
        type: ALREADY_DECIDED,
        message: 'This approval has already been decided.',
      });
    }
    // One person, one vote per level: a delegate for two approvers, or an approver who is also
    // someone's delegate, counts once, so a quorum of N needs N different people.
    if (level.voters.has(actor)) {
      throw ApplicationFailure.create({
        type: ALREADY_DECIDED,
        message: `${actor} already decided at this level; one person has one vote.`,
      });
    }
  }

  /** Signal handler: queues a pending approver the directory deactivated; the level loop moves them on. */
  approverDeactivated(d: ApproverDeactivation): void {
    const level = this.level;
    if (level?.approvers.has(d.approver) && !level.decided.has(d.approver)) this.departures.push(d);
  }

  /** Update handler: records the decision; the level loop in `run` sees it. */
  async apply(d: DecisionInput): Promise<RequestSnapshot> {
    const level = this.level!;
    const actor = d.decidedBy ?? d.approver;
    level.decided.add(d.approver);
    level.voters.add(actor);
    const approval: Approval = {
      kind: level.kind,
      approver: actor,
      decision: d.decision,
      decidedAt: nowIso(),
      ...(d.comment ? { comment: d.comment } : {}),
      ...(actor !== d.approver ? { onBehalfOf: d.approver } : {}),
      ...(d.via ? { via: d.via } : {}),
    };
    if (d.decision === 'deny') level.denial = approval;
    else level.approvals.push(approval);
    // Whoever decided is no longer awaited (a quorum level stays open for the others). Set
    // without publishing: addApproval publishes it, so no command is added.
    this.tracker.noteWaitingOn(
      [...level.approvers].filter((a) => !level.decided.has(a) && !level.voters.has(a)),
    );
    await this.tracker.addApproval(approval);
    await acts.recordApprovalDecision({
      requestId: this.req.requestId,
      level: this.levelIndex,
      approver: d.approver,
      decidedBy: actor,
      decision: d.decision,
      ...(d.comment ? { comment: d.comment } : {}),
    });
    return this.tracker.snapshot;
  }

  async run(): Promise<ApprovalResult> {
    const decisions: Approval[] = [];
    for (const [index, policy] of this.req.policy.entries()) {
      this.levelIndex = index + 1;
      const resolved = await acts.resolveApprovers({
        requestId: this.req.requestId,
        requester: this.req.requester,
        beneficiary: this.req.beneficiary,
        catalogItemId: this.req.catalogItemId,
        ...(this.req.catalogItemVersion ? { catalogItemVersion: this.req.catalogItemVersion } : {}),
        level: this.levelIndex,
        policy,
      });
      const kind: Approval['kind'] =
        policy.kind === 'group' ? (policy.groupId === 'cab' ? 'cab' : 'group') : policy.kind;
      const level: OpenLevel = {
        resolved,
        kind,
        approvers: new Set(resolved.approvers),
        approvals: [],
        decided: new Set(),
        voters: new Set(),
        step: undefined as unknown as RequestStep,
      };
      // Open for decisions before anyone can see the request waiting, so a decision
      // that follows what the portal shows is never refused as "not awaiting".
      this.departures.length = 0;
      this.level = level;
      await acts.openApprovalTasks({
        requestId: this.req.requestId,
        level: this.levelIndex,
        approvers: resolved.approvers,
      });
      await this.ask(resolved.approvers, 'request');
      const step = await this.tracker.startStep(
        `approval_level_${this.levelIndex}`,
        'human',
        this.describe(resolved),
        'waiting',
      );
      level.step = step;
      // The status says "awaiting approval" only once the approvers can decide.
      await this.tracker.enterWait('awaiting_approval', () =>
        this.tracker.setWaitingOn(`approval: ${resolved.label}`, resolved.approvers),
      );
      this.asked = true;
      const clock = this.tracker.stepClock(`approval_level_${this.levelIndex}`);

      let outcome: 'decided' | 'expired';
      try {
        outcome = await this.awaitLevel(level);
      } catch (err) {
        // Cancelled while waiting: the approvers' lists must not keep a request that ended.
        if (isCancellation(err)) {
          await CancellationScope.nonCancellable(async () => {
            this.level = undefined;
            await acts.closeApprovalTasks({ requestId: this.req.requestId, state: 'cancelled' });
            await this.tracker.updateStep(step, { state: 'failed', detail: 'Cancelled before a decision.' });
          });
        }
        throw err;
      }
      this.level = undefined;
      this.asked = false;
      clock.stop();
      await this.tracker.setWaitingOn(null);
      await acts.closeApprovalTasks({
        requestId: this.req.requestId,
        state: outcome === 'expired' ? 'expired' : 'superseded',
      });
      if (outcome === 'expired') {
        await this.tracker.updateStep(step, {
          state: 'failed',
          detail: `Nobody decided within ${this.req.timing.expireAfter}; the request expired.`,
        });
        return { outcome: 'expired', level: resolved.label };
      }
      if (level.denial) {
        await this.tracker.updateStep(step, {
          state: 'failed',
          detail: `Denied by ${level.denial.approver}${level.denial.comment ? `: ${level.denial.comment}` : '.'}`,
        });
        return { outcome: 'denied', decision: level.denial };
      }
      decisions.push(...level.approvals);
      await this.tracker.updateStep(step, {
        state: 'completed',
        detail: `Approved by ${level.approvals.map((a) => a.approver).join(', ')} (${resolved.label}).`,
      });
    }
    return { outcome: 'approved', decisions };
  }

  /** Waits for the level to pass or fail, reminding, then escalating, then expiring on timers. */
  private async awaitLevel(level: OpenLevel): Promise<'decided' | 'expired'> {
    const done = () => level.denial !== undefined || level.approvals.length >= level.resolved.required;
    const t = this.req.timing;
    const stages: { at: number; act: () => Promise<void> }[] = [
      { at: toMs(t.remindAfter), act: () => this.remind(level) },
      { at: toMs(t.escalateAfter), act: () => this.escalate(level) },
    ];
    const expireAt = toMs(t.expireAfter);
    let elapsed = 0;
    for (const stage of stages.filter((s) => s.at < expireAt).sort((a, b) => a.at - b.at)) {
      if (await this.waitFor(level, done, Math.max(1, stage.at - elapsed))) return 'decided';
      elapsed = stage.at;
      await stage.act();
    }
    return (await this.waitFor(level, done, Math.max(1, expireAt - elapsed))) ? 'decided' : 'expired';
  }

  /**
   * Waits up to `ms` for the level to be decided, moving on the part of anyone deactivated
   * meanwhile. Without such a signal this is one `condition` with the same timeout as
   * always, so runs recorded before the signal existed replay unchanged.
   */
  private async waitFor(level: OpenLevel, done: () => boolean, ms: number): Promise<boolean> {
    let left = ms;
    for (;;) {
      const since = Date.now();
      if (!(await condition(() => done() || this.departures.length > 0, left))) return false;
      if (done()) return true;
      await this.reroute(level);
      if (done()) return true;
      left = Math.max(1, left - (Date.now() - since));
    }
  }

  /** Hands each deactivated approver's part to the next eligible person up their chain, and says so. */
  private async reroute(level: OpenLevel): Promise<void> {
    for (const d of this.departures.splice(0)) {
      if (!level.approvers.has(d.approver) || level.decided.has(d.approver)) continue;
      const { approvers: successors, notes } = await acts.replacementApprovers({
        approver: d.approver,
        requester: this.req.requester,
        beneficiary: this.req.beneficiary,
      });
      level.approvers.delete(d.approver);
      const added = successors.filter((a) => !level.approvers.has(a));
      for (const a of added) level.approvers.add(a);
      // A quorum larger than the people left to give it could never pass.
      level.resolved.required = Math.max(1, Math.min(level.resolved.required, level.approvers.size));
      await acts.closeApprovalTasks({
        requestId: this.req.requestId,
        state: 'superseded',
        approver: d.approver,
      });
      if (added.length > 0) {
        await acts.openApprovalTasks({
          requestId: this.req.requestId,
          level: this.levelIndex,
          approvers: added,
        });
        await this.ask(added, 'reroute', `${d.approver} ${d.reason}, so the decision is yours now.`);
      }
      const moved =
        successors.length > 0
          ? `the approval moved to ${successors.join(', ')}.`
          : 'nobody is left to decide; the request expires unless someone is added.';
      await this.tracker.setWaitingOn(
        `approval: ${level.resolved.label}`,
        [...level.approvers].filter((a) => !level.decided.has(a) && !level.voters.has(a)),
      );
      await this.tracker.updateStep(level.step, {
        detail: `${this.describe(level.resolved, level.approvers)} ${d.approver} ${d.reason}; ${moved}${notes.length > 0 ? ` ${notes.join(' ')}` : ''}`,
      });
      await acts.recordAudit({
        key: `${this.req.requestId}:approval.rerouted:${this.levelIndex}:${d.approver}`,
        actor: 'reqflow',
        action: 'approval.rerouted',
        requestId: this.req.requestId,
        subject: d.approver,
        details: { level: this.levelIndex, from: d.approver, to: successors, reason: d.reason },
      });
    }
  }

  private async remind(level: OpenLevel): Promise<void> {
    const pending = [...level.approvers].filter((a) => !level.decided.has(a) && !level.voters.has(a));
    await this.ask(pending, 'reminder');
    await this.tracker.updateStep(level.step, {
      detail: `${this.describe(level.resolved, level.approvers)} Reminder sent to ${pending.join(', ')}.`,
    });
  }

  private async escalate(level: OpenLevel): Promise<void> {
    const pending = [...level.approvers].filter((a) => !level.decided.has(a) && !level.voters.has(a));
    const managers = await acts.escalationTargets({
      approvers: pending,
      requester: this.req.requester,
      beneficiary: this.req.beneficiary,
    });
    if (managers.length === 0) return;
    for (const m of managers) level.approvers.add(m);
    await acts.openApprovalTasks({
      requestId: this.req.requestId,
      level: this.levelIndex,
      approvers: managers,
    });
    await this.ask(managers, 'escalation');
    await this.tracker.setWaitingOn(
      `approval: ${level.resolved.label}, escalated`,
      [...level.approvers].filter((a) => !level.decided.has(a) && !level.voters.has(a)),
    );
    await this.tracker.updateStep(level.step, {
      detail: `${this.describe(level.resolved, level.approvers)} Escalated to ${managers.join(', ')} after ${this.req.timing.escalateAfter} without a decision.`,
    });
  }

  private async ask(
    approvers: string[],
    kind: 'request' | 'reminder' | 'escalation' | 'reroute',
    why?: string,
  ): Promise<void> {
    const r = this.req;
    const who = r.beneficiary === r.requester ? r.requester : `${r.requester} for ${r.beneficiary}`;
    const prefix = {
      request: '',
      reminder: 'Reminder: ',
      escalation: 'Escalated: ',
      reroute: 'Reassigned: ',
    }[kind];
    await acts.notifyApprovers({
      requestId: r.requestId,
      level: this.levelIndex,
      approvers,
      kind,
      subject: `${prefix}Approval needed: ${r.itemName} for ${r.beneficiary} (${r.requestId})`,
      body:
        (why ? `${why} ` : '') +
        `${who} requests ${r.itemName}.` +
        (r.justification ? ` Why: ${r.justification}` : ' No justification given.') +
        ` Approve or deny with the links below, or through the API: POST /api/requests/${r.requestId}/approvals.`,
    });
  }

  private describe(resolved: ResolvedLevel, approvers: Iterable<string> = resolved.approvers): string {
    const notes = resolved.notes.length > 0 ? ` ${resolved.notes.join(' ')}` : '';
    return `Waiting for ${[...approvers].join(', ')} (${resolved.label}; ${resolved.required} approval(s) needed).${notes}`;
  }
}
