import { describe, expect, it } from 'vitest';
import { seededDatabaseFile } from './helpers/seeded-file.js';
import type { RequestSnapshot } from '../domain/request.js';
import {
  findRequest,
  findRequestWithItem,
  findVisibleRequest,
  listChildRequests,
  projectRequest,
  recordRequestUndoneIn,
  recordSubmittedRequest,
  withdrawSubmittedRequest,
  type Viewer,
} from '../requests/index.js';
import { createTasks } from '../tasks/index.js';
import { transaction } from '../db/transaction.js';

// The requests and tasks aggregates on a real database (a SQLite file, or PostgreSQL): the
// only writers of their tables, and the one place a request is read by id and its visibility decided.

const file = seededDatabaseFile('aggregates');

const submitted = (id: string, extra: { parentId?: string } = {}) => ({
  id,
  type: 'standard_service' as const,
  catalogItemId: 'visio',
  requesterId: 'bob',
  beneficiaryId: 'alice',
  deviceId: 'LAPTOP-ALICE',
  fingerprint: `fp-${id}`,
  ...extra,
});

const snapshot = (id: string, version: number, status: RequestSnapshot['status']): RequestSnapshot => ({
  id,
  type: 'standard_service',
  catalogItemId: 'visio',
  requester: 'bob',
  beneficiary: 'alice',
  status,
  steps: [],
  waitingOn: null,
  approvals: [],
  outcome: null,
  version,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: `2026-01-01T00:00:0${version}.000Z`,
  fulfilledAt: null,
});

const person = (id: string, groups: string[] = []): Viewer => ({ id, isOperator: false, groups });

describe('the requests aggregate', () => {
  it('records a submission once per id, and takes back one whose workflow never started', async () => {
    expect(await recordSubmittedRequest(file.db, submitted('REQ-R1'))).toBe(true);
    expect(await recordSubmittedRequest(file.db, { ...submitted('REQ-R1'), justification: 'again' })).toBe(
      false,
    );
    expect(await findRequest(file.db, 'REQ-R1')).toMatchObject({ status: 'submitted', justification: null });
    expect(await findRequestWithItem(file.db, 'REQ-R1')).toMatchObject({
      req: { id: 'REQ-R1' },
      itemName: expect.stringContaining('Visio') as string,
    });

    await withdrawSubmittedRequest(file.db, 'REQ-R1');
    expect(await findRequest(file.db, 'REQ-R1')).toBeUndefined();
  });

  it('projects snapshots newest version first, and a reset run over an older version', async () => {
    await recordSubmittedRequest(file.db, submitted('REQ-R2'));
    await projectRequest(file.db, { snapshot: snapshot('REQ-R2', 3, 'fulfilling'), runId: 'run-1' });
    await projectRequest(file.db, { snapshot: snapshot('REQ-R2', 2, 'approved'), runId: 'run-1' });
    expect(await findRequest(file.db, 'REQ-R2')).toMatchObject({ status: 'fulfilling', version: 3 });

    await projectRequest(file.db, { snapshot: snapshot('REQ-R2', 2, 'approved'), runId: 'run-2' });
    expect(await findRequest(file.db, 'REQ-R2')).toMatchObject({
      status: 'approved',
      version: 2,
      runId: 'run-2',
    });
  });

  it('shows a request to its requester, beneficiary, operators and task holders, and to nobody else', async () => {
    await recordSubmittedRequest(file.db, submitted('REQ-R3'));
    expect(await findVisibleRequest(file.db, person('bob'), 'REQ-R3')).toBeDefined();
    expect(await findVisibleRequest(file.db, person('alice'), 'REQ-R3')).toBeDefined();
    expect(
      await findVisibleRequest(file.db, { id: 'olga', isOperator: true, groups: [] }, 'REQ-R3'),
    ).toBeDefined();
    expect(await findVisibleRequest(file.db, person('carol'), 'REQ-R3')).toBeUndefined();
    expect(await findVisibleRequest(file.db, person('dave', ['service-desk']), 'REQ-R3')).toBeUndefined();
    expect(await findVisibleRequest(file.db, person('bob'), 'REQ-NONE')).toBeUndefined();

    await createTasks({ db: file.db }).openTask({
      id: 'TASK-R3',
      key: 'REQ-R3:deployment-failed',
      requestId: 'REQ-R3',
      groupId: 'service-desk',
      title: 'Install by hand',
      description: 'The deployment failed.',
    });
    expect(await findVisibleRequest(file.db, person('dave', ['service-desk']), 'REQ-R3')).toBeDefined();
    expect(await findVisibleRequest(file.db, person('carol', ['procurement']), 'REQ-R3')).toBeUndefined();
  });

  it('lists the items of a bundle and records an undone item once', async () => {
    await recordSubmittedRequest(file.db, submitted('REQ-R4'));
    await recordSubmittedRequest(file.db, submitted('REQ-R4C2', { parentId: 'REQ-R4' }));
    await recordSubmittedRequest(file.db, submitted('REQ-R4C1', { parentId: 'REQ-R4' }));
    expect((await listChildRequests(file.db, 'REQ-R4')).map((c) => c.id)).toEqual(['REQ-R4C1', 'REQ-R4C2']);

    const undo = { requestId: 'REQ-R4C1', step: 'undo', message: 'The bundle was cancelled.', at: 'T1' };
    await transaction(file.db, (tx) => recordRequestUndoneIn(tx, undo));
    await transaction(file.db, (tx) => recordRequestUndoneIn(tx, { ...undo, at: 'T2' }));
    const row = await findRequest(file.db, 'REQ-R4C1');
    expect(row).toMatchObject({ status: 'cancelled', outcome: { message: 'The bundle was cancelled.' } });
    expect(row!.steps).toEqual([
      {
        name: 'undo',
        kind: 'automated',
        state: 'compensated',
        startedAt: 'T1',
        endedAt: 'T1',
        detail: 'The bundle was cancelled.',
      },
    ]);
  });
});

describe('the tasks aggregate', () => {
  const tasks = () => createTasks({ db: file.db, now: () => new Date('2026-02-01T10:00:00.000Z') });
  const open = {
    id: 'TASK-T1',
    key: 'REQ-T1:order',
    requestId: 'REQ-T1',
    groupId: 'procurement',
    title: 'Order a monitor',
    description: 'Second monitor for alice.',
    outcomes: ['ordered', 'delivered'],
  };

  it('opens a task once per key, and the first claim wins', async () => {
    await tasks().openTask(open);
    await tasks().openTask({ ...open, id: 'TASK-T1-AGAIN', title: 'again' });
    expect(await tasks().findTask('TASK-T1-AGAIN')).toBeUndefined();
    expect(await tasks().findTask('TASK-T1')).toMatchObject({ state: 'open', title: 'Order a monitor' });

    expect(await tasks().claimTask('TASK-T1', 'dave')).toBe(true);
    expect(await tasks().claimTask('TASK-T1', 'erin')).toBe(false);
    expect(await tasks().findTask('TASK-T1')).toMatchObject({ state: 'claimed', assigneeId: 'dave' });

    await tasks().reassignTask('TASK-T1', { groupId: 'service-desk', assigneeId: null });
    expect(await tasks().findTask('TASK-T1')).toMatchObject({
      state: 'open',
      groupId: 'service-desk',
      assigneeId: null,
    });
  });

  it('keeps the first completion, and a cancellation never undoes it', async () => {
    await tasks().completeTask({ taskId: 'TASK-T1', outcome: 'ordered', completedBy: 'dave' });
    await tasks().completeTask({ taskId: 'TASK-T1', outcome: 'delivered', completedBy: 'erin' });
    await tasks().cancelTask({ taskId: 'TASK-T1', resolution: 'not needed', by: 'olga' });
    expect(await tasks().findTask('TASK-T1')).toMatchObject({
      state: 'completed',
      outcome: 'ordered',
      completedBy: 'dave',
      resolution: null,
      completedAt: '2026-02-01T10:00:00.000Z',
    });
  });

  it('cancels an open task with who and why, and keeps its comments in order', async () => {
    await tasks().openTask({ ...open, id: 'TASK-T2', key: 'REQ-T2:order', requestId: 'REQ-T2' });
    await tasks().commentOnTask('TASK-T2', 'dave', 'first');
    await tasks().commentOnTask('TASK-T2', 'erin', 'second');
    expect((await tasks().listTaskComments('TASK-T2')).map((c) => [c.authorId, c.body])).toEqual([
      ['dave', 'first'],
      ['erin', 'second'],
    ]);
    await tasks().cancelTask({ taskId: 'TASK-T2', resolution: 'retried by olga', by: 'olga' });
    expect(await tasks().findTask('TASK-T2')).toMatchObject({
      state: 'cancelled',
      resolution: 'retried by olga',
      completedBy: 'olga',
    });
  });
});
