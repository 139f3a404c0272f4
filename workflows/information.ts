import { CancellationScope, condition, defineUpdate, isCancellation, setHandler } from '@temporalio/workflow';
import { acts, requesterNotifier } from './activity-proxies.js';
import type { InformationRequestInput, RequestSnapshot } from '../domain/request.js';
import { ManualTasks } from './manual-task.js';
import { RequestTracker } from './request-tracker.js';

export interface AnswerFeedback {
  helpful: boolean;
  comment?: string;
  /** Must be the requester; the API checks, the validator checks again. */
  from: string;
}

/** The requester says whether the knowledge answer helped; "no" hands the question to the service desk. */
export const answerFeedbackUpdate = defineUpdate<RequestSnapshot, [AnswerFeedback]>('answerFeedback');

/** Share of the question's words an article must contain to count as the answer. */
const MIN_COVERAGE = 0.5;

/**
 * ITIL "Request to Fulfill" for information: the knowledge base answers at once (the
 * POST already carries the article); no article, or an answer that did not help,
 * becomes a service-desk task whose written answer goes back to the requester.
 */
export async function informationRequest(input: InformationRequestInput): Promise<RequestSnapshot> {
  const { requestId } = input;
  const tracker = new RequestTracker({ ...input, type: 'information' });
  const tasks = new ManualTasks(tracker, requestId);
  let feedback: AnswerFeedback | undefined;
  let awaitingFeedback = false;

  setHandler(
    answerFeedbackUpdate,
    async (f: AnswerFeedback) => {
      feedback = f;
      return tracker.snapshot;
    },
    {
      validator: (f: AnswerFeedback) => {
        if (f.from !== input.requester)
          throw new Error('Only the requester can say whether the answer helped.');
        if (!awaitingFeedback || feedback)
          throw new Error('This request is not waiting for feedback on an answer.');
      },
    },
  );

  const notifyRequester = requesterNotifier(requestId, input.requester, input.beneficiary);

  try {
    await tracker.setStatus('fulfilling');
    const hits = await tracker.step(
      'search_knowledge',
      () => acts.searchKnowledge({ query: input.question, limit: 3 }),
      (h) => {
        const fit = h.find((x) => x.coverage >= MIN_COVERAGE);
        return fit ? `Answered by ${fit.id} "${fit.title}".` : 'No knowledge article answers the question.';
      },
    );
    // An article answers only if it covers most of the question's words: search ORs the
    // terms, so nearly any question finds *something*, and bm25 scores do not compare
    // across questions well enough to be a cutoff.
    const best = hits.find((h) => h.coverage >= MIN_COVERAGE);
    if (best) {
      awaitingFeedback = true;
      await tracker.finish('fulfilled', {
        message: `${best.title}: ${best.body}`,
        reason: `knowledge article ${best.id}`,
      });
      tracker.admit();
      await notifyRequester('answered', `Answer: ${best.title}`, best.body, {
        article: `/api/knowledge/${best.id}`,
      });
      // The answer stands unless the requester says, within the window, that it did not help.
      const replied = await condition(() => feedback !== undefined, input.feedbackWindow);
      awaitingFeedback = false;
      if (!replied || feedback!.helpful) return tracker.snapshot;
    }

    const why = best
      ? `The requester says article ${best.id} did not help${feedback?.comment ? `: "${feedback.comment}"` : '.'}`
      : 'No knowledge article answers it.';
    tracker.admit();
    let context = `${input.question}\n\n${why}`;
    const ask = (round: number) =>
      tasks.run({
        key: round === 1 ? 'answer' : `answer-${round}`,
        groupId: input.fulfillmentGroupId,
        title: `Answer ${input.requester}'s question`,
        description: `${context}\n\nComplete with the answer (sent to ${input.requester}), or with need_more_info and your question to them.`,
        outcomes: ['answered', 'need_more_info', 'not_possible'],
        step: 'service_desk_answer',
      });
    let done = await ask(1);
    // "Pending customer": the desk needs details only the requester has. The task is the
    // requester's, so the request waits on them and its SLA clocks stand still meanwhile.
    for (let round = 2; done.outcome === 'need_more_info'; round++) {
      const asked = done.resolution ?? 'Please add more details.';
      await notifyRequester(`details-${round}`, 'The service desk needs more details', asked);
      const details = await tasks.run({
        key: `details-${round}`,
        groupId: input.fulfillmentGroupId,
        assigneeId: input.requester,
        title: 'Add the details the service desk asked for',
        description: `${asked}\n\nComplete this task with the details as the resolution.`,
        outcomes: ['provided'],
        step: 'requester_details',
      });
      context += `\n\n${done.completedBy} asked: ${asked}\n${input.requester} answered: ${details.resolution ?? '(nothing)'}`;
      done = await ask(round);
    }
    const answer = done.resolution ?? '(no answer written)';
    await notifyRequester(
      'agent-answer',
      done.outcome === 'answered'
        ? 'The service desk answered your question'
        : 'The service desk could not answer your question',
      answer,
    );
    return await tracker.finish(done.outcome === 'answered' ? 'fulfilled' : 'failed', {
      message: answer,
      reason: `answered by ${done.completedBy}`,
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    return await CancellationScope.nonCancellable(async () => {
      tracker.admit();
      await tasks.cancelOpen();
      return tracker.finish('cancelled', { message: 'The question was withdrawn.' });
    });
  }
}
