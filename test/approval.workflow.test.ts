import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Activities } from '../activities/index.js';
import { fakeActivities } from './helpers/fake-activities.js';
import { setUpWorkflowBundle } from './helpers/workflow-bundle.js';
import { recordHistory } from './helpers/histories.js';
import type { ApprovalPolicy, ResolvedLevel } from '../domain/approval.js';
import type { AccessRequestInput, ApprovalOptions, RequestSnapshot } from '../domain/request.js';
import type { accessRequest } from '../workflows/access.js';
import { approverDeactivatedSignal, decideUpdate } from '../workflows/approval.js';
import { statusQuery } from '../workflows/request-tracker.js';

// The approval building block through the access workflow, with typed fake
// activities: routing levels, quorum, reminders, escalation and expiry on short
// timers against the real dev server.

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await setUpWorkflowBundle();
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
});

afterAll(async () => {
  await env?.teardown();
});

interface Scenario {
  policy: ApprovalPolicy;
  /** Approvers per level (1-based), as resolveApprovers would find them. */
  levels: Record<number, Omit<ResolvedLevel, 'level'>>;
  escalateTo?: string[];
  /** Who replaces a deactivated approver, as replacementApprovers would find them. */
  replaceWith?: Record<string, string[]>;
  /** Runs inside grantAccess, e.g. to hold it while the test cancels. */
  duringGrant?: () => Promise<void>;
  /** Runs inside notify with the notification's key, e.g. to hold the "approved" notice. */
  duringNotify?: (key: string) => Promise<void>;
  /** Sees every projection write (syncRequest), in the order the workflow makes them. */
  onProjection?: (snapshot: RequestSnapshot) => void;
}

interface Call {
  name: keyof Activities;
  input: unknown;
}

function accessFakes(s: Scenario, calls: Call[]): Activities {
  const record = (name: keyof Activities, input: unknown) => calls.push({ name, input });
  let seq = 0;
  return fakeActivities({
    async checkAccessItem(input) {
      record('checkAccessItem', input);
      return {
        itemName: 'Financial Reporting System',
        sensitive: s.policy.length > 0,
        securityGroup: 'FIN-REPORTING-READERS',
        groupName: 'Financial Reporting System readers',
        approvalPolicy: s.policy,
        bookmarkUrl: 'https://fin.example.com',
      };
    },
    async resolveApprovers(input) {
      record('resolveApprovers', input);
      const level = s.levels[input.level];
      if (!level) throw ApplicationFailure.nonRetryable(`no level ${input.level}`);
      return { level: input.level, ...level };
    },
    async escalationTargets(input) {
      record('escalationTargets', input);
      return s.escalateTo ?? [];
    },
    async replacementApprovers(input) {
      record('replacementApprovers', input);
      return { approvers: s.replaceWith?.[input.approver] ?? [], notes: [] };
    },
    async openApprovalTasks(input) {
      record('openApprovalTasks', input);
    },
    async recordApprovalDecision(input) {
      record('recordApprovalDecision', input);
    },
    async closeApprovalTasks(input) {
      record('closeApprovalTasks', input);
    },
    async notifyApprovers(input) {
      record('notifyApprovers', input);
    },
    async grantAccess(input) {
      record('grantAccess', input);
      await s.duringGrant?.();
      // The grant's audit entry is written in the grant's own transaction.
      return { added: true, grantAuditSeq: ++seq };
    },
    async revokeGroupMemberships(input) {
      record('revokeGroupMemberships', input);
      return { removed: 1 };
    },
    async notify(input) {
      record('notify', input);
      await s.duringNotify?.(input.key);
    },
    async recordAudit(input) {
      record('recordAudit', input);
      return { seq: ++seq };
    },
    async syncRequest(input) {
      s.onProjection?.(input.snapshot);
    },
    async surveyLinkFor() {
      return '/surveys/REQ-X?t=signed';
    },
  });
}

const slow: ApprovalOptions = { remindAfter: '1h', escalateAfter: '2h', expireAfter: '3h' };

async function run(
  scenario: Scenario,
  timing: ApprovalOptions,
  during: (h: WorkflowHandle<typeof accessRequest>) => Promise<void>,
  overrides: Partial<AccessRequestInput> = {},
) {
  const taskQueue = `approval-test-${randomUUID()}`;
  const requestId = `REQ-A${randomUUID().slice(0, 8).toUpperCase()}`;
  const calls: Call[] = [];
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities: accessFakes(scenario, calls),
  });
  const input: AccessRequestInput = {
    requestId,
    catalogItemId: 'financial-reporting',
    requester: 'carol',
    beneficiary: 'carol',
    justification: 'Quarter-end close',
    approval: timing,
    ...overrides,
  };
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof accessRequest>('accessRequest', {
      workflowId: requestId,
      taskQueue,
      args: [input],
    });
    await during(handle);
    const result = await handle.result();
    return { result, calls, names: calls.map((c) => c.name) };
  });
}

async function waitFor(h: WorkflowHandle, ok: (s: RequestSnapshot) => boolean): Promise<RequestSnapshot> {
  for (;;) {
    const s = await h.query(statusQuery);
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** A promise the test resolves by hand: `open()` lets whoever awaits `opened` go on. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}
/** The keys of the notifications sent, in the order they were sent. */
const notifyKeys = (calls: Call[]) =>
  calls.filter((c) => c.name === 'notify').map((c) => (c.input as { key: string }).key);
/** Waits for `p`, or no longer than `ms`: a fake that must not hang its worker when the workflow is wrong. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
const waitingOn = (level: number) => (s: RequestSnapshot) =>
  s.steps.some((x) => x.name === `approval_level_${level}` && x.state === 'waiting');
const decide = (
  h: WorkflowHandle,
  approver: string,
  decision: 'approve' | 'deny' = 'approve',
  decidedBy?: string,
) => h.executeUpdate(decideUpdate, { args: [{ approver, decision, ...(decidedBy ? { decidedBy } : {}) }] });

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

const manager: Scenario = {
  policy: [{ kind: 'manager' }],
  levels: { 1: { label: 'manager of carol', approvers: ['erin'], required: 1, notes: [] } },
};

/**
 * Erin approves; the request is cancelled while the grant runs, which is held until then (and
 * the "approved" notice with it when `holdApprovalNotice`).
 */
async function cancelledMidGrant(opts: { holdApprovalNotice?: boolean; record?: string }) {
  const release = gate();
  const grantStarted = gate();
  return run(
    {
      ...manager,
      duringGrant: async () => {
        grantStarted.open();
        await release.opened;
      },
      ...(opts.holdApprovalNotice
        ? {
            duringNotify: async (key: string) => {
              if (key.endsWith(':approved')) await release.opened;
            },
          }
        : {}),
    },
    slow,
    async (h) => {
      await waitFor(h, waitingOn(1));
      await decide(h, 'erin');
      await grantStarted.opened;
      await h.cancel();
      release.open();
      if (opts.record) await recordHistory(h, opts.record);
    },
  );
}

describe('approval building block', () => {
  it('refuses non-approvers and self-approval in the validator, then takes the approver', async () => {
    const { result } = await run(manager, slow, async (h) => {
      await waitFor(h, waitingOn(1));
      expect(await refusal(decide(h, 'dave'))).toBe('NotApprover');
      expect(await refusal(decide(h, 'carol'))).toBe('SelfApproval');
      expect(await refusal(decide(h, 'erin', 'approve', 'carol'))).toBe('SelfApproval');
      await decide(h, 'erin');
      expect(await refusal(decide(h, 'erin'))).toMatch(/AlreadyDecided|NotAwaitingApproval/);
    });
    expect(result.status).toBe('fulfilled');
    expect(result.approvals).toEqual([
      expect.objectContaining({ kind: 'manager', approver: 'erin', decision: 'approve' }),
    ]);
  });

  it('reminds, then escalates to the approver’s manager, who may then decide', async () => {
    const { result, calls } = await run(
      { ...manager, escalateTo: ['olga'] },
      { remindAfter: '1s', escalateAfter: '2s', expireAfter: '1h' },
      async (h) => {
        await waitFor(h, (s) => s.steps.some((x) => x.detail?.includes('Escalated to olga')));
        await decide(h, 'olga');
        await recordHistory(h, 'escalated-then-approved');
      },
    );
    expect(result.status).toBe('fulfilled');
    const kinds = calls
      .filter((c) => c.name === 'notifyApprovers')
      .map((c) => c.input as { kind: string; approvers: string[] });
    expect(kinds).toEqual([
      expect.objectContaining({ kind: 'request', approvers: ['erin'] }),
      expect.objectContaining({ kind: 'reminder', approvers: ['erin'] }),
      expect.objectContaining({ kind: 'escalation', approvers: ['olga'] }),
    ]);
    expect(result.approvals[0]).toMatchObject({ approver: 'olga' });
  });

  it('expires when nobody decides, and tells the requester', async () => {
    const { result, calls } = await run(
      manager,
      { remindAfter: '1s', escalateAfter: '2s', expireAfter: '3s' },
      async () => {},
    );
    expect(result.status).toBe('expired');
    expect(calls.find((c) => c.name === 'closeApprovalTasks')?.input).toMatchObject({ state: 'expired' });
    expect(
      calls.some((c) => c.name === 'notify' && (c.input as { key: string }).key.endsWith(':expired')),
    ).toBe(true);
    expect(calls.some((c) => c.name === 'grantAccess')).toBe(false);
  });

  it('needs every member for an "all" quorum', async () => {
    const { result } = await run(
      {
        policy: [{ kind: 'group', groupId: 'security', quorum: 'all' }],
        levels: { 1: { label: 'Security (all)', approvers: ['dave', 'erin'], required: 2, notes: [] } },
      },
      slow,
      async (h) => {
        await waitFor(h, waitingOn(1));
        await decide(h, 'dave');
        const s = await h.query(statusQuery);
        expect(s.status).toBe('awaiting_approval');
        await decide(h, 'erin');
      },
    );
    expect(result.status).toBe('fulfilled');
    expect(result.approvals.map((a) => a.approver)).toEqual(['dave', 'erin']);
  });

  it('runs a chain level by level (manager, then owner), and a denial at any level ends it', async () => {
    const chain: Scenario = {
      policy: [{ kind: 'manager' }, { kind: 'owner' }],
      levels: {
        1: { label: 'manager of carol', approvers: ['erin'], required: 1, notes: [] },
        2: { label: 'service owner', approvers: ['olga'], required: 1, notes: [] },
      },
    };
    const ok = await run(chain, slow, async (h) => {
      await waitFor(h, waitingOn(1));
      expect(await refusal(decide(h, 'olga'))).toBe('NotApprover');
      await decide(h, 'erin');
      await waitFor(h, waitingOn(2));
      await decide(h, 'olga');
    });
    expect(ok.result.status).toBe('fulfilled');
    expect(ok.result.approvals.map((a) => a.approver)).toEqual(['erin', 'olga']);

    const denied = await run(chain, slow, async (h) => {
      await waitFor(h, waitingOn(1));
      await decide(h, 'erin');
      await waitFor(h, waitingOn(2));
      await decide(h, 'olga', 'deny');
      await recordHistory(h, 'denied-at-second-level');
    });
    expect(denied.result.status).toBe('denied');
    expect(denied.names).not.toContain('grantAccess');
  });

  it('closes the pending approvals when the request is cancelled while waiting', async () => {
    const { result, calls } = await run(manager, slow, async (h) => {
      await waitFor(h, waitingOn(1));
      await h.cancel();
      await recordHistory(h, 'cancelled-awaiting-approval');
    });
    expect(result.status).toBe('cancelled');
    expect(calls.find((c) => c.name === 'closeApprovalTasks')?.input).toMatchObject({ state: 'cancelled' });
    expect(result.steps.find((s) => s.name === 'approval_level_1')?.state).toBe('failed');
  });

  it('moves a deactivated approver’s decision to their replacement, and ignores anyone it does not wait on', async () => {
    const deactivated = (approver: string) => ({ approver, reason: 'was deactivated in the directory' });
    const { result, calls } = await run({ ...manager, replaceWith: { erin: ['olga'] } }, slow, async (h) => {
      await waitFor(h, waitingOn(1));
      await h.signal(approverDeactivatedSignal, deactivated('dave'));
      await h.signal(approverDeactivatedSignal, deactivated('erin'));
      // Who is awaited and the step's note are two publishes: wait for the second.
      const moved = await waitFor(
        h,
        (s) =>
          s.waitingOn?.who.includes('olga') === true &&
          s.steps.some((x) => x.name === 'approval_level_1' && x.detail?.includes('moved to olga') === true),
      );
      expect(moved.waitingOn).toMatchObject({ what: 'approval: manager of carol', who: ['olga'] });
      expect(moved.steps.find((x) => x.name === 'approval_level_1')).toMatchObject({
        state: 'waiting',
        detail: expect.stringContaining(
          'erin was deactivated in the directory; the approval moved to olga.',
        ) as unknown,
      });
      expect(await refusal(decide(h, 'erin'))).toBe('NotApprover');
      // Told again (a provider retrying): nothing more happens.
      await h.signal(approverDeactivatedSignal, deactivated('erin'));
      await decide(h, 'olga');
      await recordHistory(h, 'approver-deactivated-then-approved');
    });
    expect(result.status).toBe('fulfilled');
    expect(result.approvals).toEqual([expect.objectContaining({ approver: 'olga', decision: 'approve' })]);
    expect(calls.filter((c) => c.name === 'replacementApprovers').map((c) => c.input)).toEqual([
      { approver: 'erin', requester: 'carol', beneficiary: 'carol' },
    ]);
    expect(calls.find((c) => c.name === 'closeApprovalTasks')?.input).toMatchObject({
      state: 'superseded',
      approver: 'erin',
    });
    expect(calls.filter((c) => c.name === 'openApprovalTasks').map((c) => c.input)).toEqual([
      expect.objectContaining({ level: 1, approvers: ['erin'] }),
      expect.objectContaining({ level: 1, approvers: ['olga'] }),
    ]);
    const asked = calls.filter((c) => c.name === 'notifyApprovers').map((c) => c.input);
    expect(asked[1]).toMatchObject({ kind: 'reroute', approvers: ['olga'] });
    expect((asked[1] as { body: string }).body).toContain('erin was deactivated in the directory');
    expect(
      calls.filter((c) => c.name === 'recordAudit').map((c) => (c.input as { action: string }).action),
    ).toContain('approval.rerouted');
  });

  it('refuses anyone the request benefits, in either direction of a delegation', async () => {
    // Dave asks for Carol: neither may decide, as themselves or as someone's delegate,
    // nor may a delegate decide for an approver who is one of them.
    const { result } = await run(
      {
        policy: [{ kind: 'group', groupId: 'security', quorum: 'any' }],
        levels: { 1: { label: 'Security (any)', approvers: ['erin', 'carol'], required: 1, notes: [] } },
      },
      slow,
      async (h) => {
        await waitFor(h, waitingOn(1));
        expect(await refusal(decide(h, 'erin', 'approve', 'carol'))).toBe('SelfApproval');
        expect(await refusal(decide(h, 'erin', 'approve', 'dave'))).toBe('SelfApproval');
        expect(await refusal(decide(h, 'carol', 'approve', 'erin'))).toBe('SelfApproval');
        expect(await refusal(decide(h, 'carol'))).toBe('SelfApproval');
        await decide(h, 'erin');
      },
      { requester: 'dave', beneficiary: 'carol' },
    );
    expect(result.status).toBe('fulfilled');
    expect(result.approvals).toEqual([expect.objectContaining({ approver: 'erin' })]);
  });

  it('counts one vote per person at a level: a quorum of two needs two people', async () => {
    const { result } = await run(
      {
        policy: [{ kind: 'group', groupId: 'cab', quorum: 2 }],
        levels: {
          1: { label: 'CAB (2 of them)', approvers: ['erin', 'bob', 'dave'], required: 2, notes: [] },
        },
      },
      slow,
      async (h) => {
        await waitFor(h, waitingOn(1));
        await decide(h, 'erin');
        const after = await waitFor(h, (s) => s.approvals.length === 1);
        expect(after.status).toBe('awaiting_approval');
        expect(after.waitingOn?.who).toEqual(['bob', 'dave']);
        // Erin is also Bob's delegate: her second vote is refused.
        expect(await refusal(decide(h, 'bob', 'approve', 'erin'))).toBe('AlreadyDecided');
        await decide(h, 'bob', 'approve', 'dave');
        // Dave voted for Bob; his own slot gives him no second vote.
        expect(await refusal(decide(h, 'dave'))).toMatch(/AlreadyDecided|NotAwaitingApproval/);
        await recordHistory(h, 'quorum-of-two-people');
      },
    );
    expect(result.status).toBe('fulfilled');
    expect(result.approvals).toEqual([
      expect.objectContaining({ approver: 'erin' }),
      expect.objectContaining({ approver: 'dave', onBehalfOf: 'bob' }),
    ]);
  });

  it('never leaves a grant without its audit entry when cancelled mid-grant: both happen, then the revoke', async () => {
    const { result, calls } = await cancelledMidGrant({ record: 'cancelled-while-granting' });
    expect(result.status).toBe('cancelled');
    expect(result.outcome?.message).toContain('revoked');
    // The grant (with its audit entry, one transaction) ran to its end before the revoke.
    const after = calls.slice(calls.findIndex((c) => c.name === 'grantAccess'));
    expect(after.length).toBeGreaterThan(0);
    const audits = after
      .filter((c) => c.name === 'recordAudit')
      .map((c) => (c.input as { action: string }).action);
    expect(audits).toEqual(['access.revoked']);
    expect(after.map((c) => c.name)).toContain('revokeGroupMemberships');
  });

  it('sends the approval notice beside the grant, once, and before the fulfilled notice', async () => {
    const grantStarted = gate();
    const order: string[] = [];
    const statuses: string[] = [];
    const { result, calls } = await run(
      {
        ...manager,
        duringGrant: async () => {
          order.push('grant');
          grantStarted.open();
        },
        duringNotify: async (key) => {
          // Held until the grant began: a run that waited for this notice before granting
          // would be released only by the deadline, and the order below would say so.
          if (key.endsWith(':approved')) await settledWithin(grantStarted.opened, 20_000);
          order.push(key.slice(key.indexOf(':') + 1));
        },
        onProjection: (snapshot) => {
          if (statuses.at(-1) !== snapshot.status) statuses.push(snapshot.status);
        },
      },
      slow,
      async (h) => {
        await waitFor(h, waitingOn(1));
        await decide(h, 'erin');
      },
    );
    expect(result.status).toBe('fulfilled');
    expect(order).toEqual(['grant', 'approved', 'fulfilled']);
    expect(notifyKeys(calls).filter((k) => k.endsWith(':approved'))).toHaveLength(1);
    // What a reader of the request sees after the decision, in this order.
    expect(statuses.slice(statuses.indexOf('approved'))).toEqual(['approved', 'fulfilling', 'fulfilled']);
    // The grant carries the seq of the request.approved audit entry, written before it.
    const approvedAudit = calls.findIndex(
      (c) => c.name === 'recordAudit' && (c.input as { action: string }).action === 'request.approved',
    );
    const grant = calls.findIndex((c) => c.name === 'grantAccess');
    expect(approvedAudit).toBeGreaterThanOrEqual(0);
    expect(grant).toBeGreaterThan(approvedAudit);
  });

  it('revokes a grant cancelled while the approval notice was still being sent', async () => {
    // The notice is held until after the cancellation: only a run that grants beside it gets that far.
    const { result, calls } = await cancelledMidGrant({ holdApprovalNotice: true });
    // The notice's cancellation waited for the grant, then the grant was revoked (and nothing
    // went unhandled in the sandbox, which would have failed the run instead).
    expect(result.status).toBe('cancelled');
    expect(result.outcome?.message).toContain('revoked');
    expect(calls.map((c) => c.name)).toContain('revokeGroupMemberships');
    const keys = notifyKeys(calls);
    expect(keys.filter((k) => k.endsWith(':approved'))).toHaveLength(1);
    expect(keys.some((k) => k.endsWith(':fulfilled'))).toBe(false);
  });

  it('grants a non-sensitive item without asking anyone', async () => {
    const { result, names } = await run({ policy: [], levels: {} }, slow, async () => {});
    expect(result.status).toBe('fulfilled');
    expect(names).not.toContain('resolveApprovers');
    expect(result.approvals[0]).toMatchObject({ approver: 'reqflow', decision: 'approve' });
  });
});
