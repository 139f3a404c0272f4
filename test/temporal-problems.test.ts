import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { conflict, forbidden, HttpProblem } from '../api/errors.js';
import { temporalProblem } from '../api/temporal-problems.js';
import { NOT_APPROVER, SELF_APPROVAL } from '../api/workflow-contract.js';

// The SDK's own error classes, as the client throws them; the routes that rely on the
// mapping are exercised against real workflows in the e2e tests (segregation, tasks, reviews).

const refused = (type: string, message: string) =>
  new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ type, message }));

describe('temporalProblem', () => {
  const answers = {
    refused: { [SELF_APPROVAL]: forbidden },
    closed: () => conflict('It has ended.'),
  };

  it("answers a refused update by its failure type, with the validator's message", () => {
    const problem = temporalProblem(refused(SELF_APPROVAL, 'You cannot approve your own request.'), answers);
    expect(problem).toBeInstanceOf(HttpProblem);
    expect(problem).toMatchObject({ statusCode: 403, message: 'You cannot approve your own request.' });
  });

  it('answers a closed workflow as the route says', () => {
    expect(
      temporalProblem(new WorkflowNotFoundError('not found', 'REQ-1', undefined), answers),
    ).toMatchObject({
      statusCode: 409,
      message: 'It has ended.',
    });
  });

  it('returns what the route did not map as it is (a 500, masked)', () => {
    const unmapped = refused(NOT_APPROVER, 'no');
    expect(temporalProblem(unmapped, answers)).toBe(unmapped);
    const gone = new WorkflowNotFoundError('not found', 'REQ-1', undefined);
    expect(temporalProblem(gone, { refused: answers.refused })).toBe(gone);
    const other = new Error('connection refused');
    expect(temporalProblem(other, answers)).toBe(other);
  });

  it('answers any other refusal with `otherwise`', () => {
    expect(
      temporalProblem(refused(NOT_APPROVER, 'no'), { otherwise: () => conflict('Over.') }),
    ).toMatchObject({
      statusCode: 409,
      message: 'Over.',
    });
  });
});
