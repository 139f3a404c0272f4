import { eq } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';

/*
 * The satisfaction survey of a fulfilled request (ITIL: continual improvement): this module
 * alone writes `survey_responses`. The API route and the survey page (reached from the
 * fulfillment message's signed link) both answer through it; who may answer, and when, is
 * theirs to check.
 */

export interface SurveyAnswer {
  /** 1 = very dissatisfied, 5 = very satisfied. */
  score: number;
  comment?: string | undefined;
}

export interface Survey {
  requestId: string;
  answered: boolean;
  score?: number;
  comment?: string;
}

/** The requester's satisfaction answer for a request, if any. */
export async function readSurvey(db: DB, requestId: string): Promise<Survey> {
  const [row] = await db
    .select()
    .from(t.surveyResponses)
    .where(eq(t.surveyResponses.requestId, requestId))
    .limit(1);
  if (!row) return { requestId, answered: false };
  return {
    requestId,
    answered: true,
    score: row.score,
    ...(row.comment !== null ? { comment: row.comment } : {}),
  };
}

/** Records the answer; answering again replaces it (one answer per request). */
export async function saveSurveyAnswer(
  db: DB,
  requestId: string,
  respondentId: string,
  answer: SurveyAnswer,
): Promise<Survey> {
  const comment = answer.comment?.trim() ? answer.comment : null;
  await db
    .insert(t.surveyResponses)
    .values({ requestId, respondentId, score: answer.score, comment })
    .onConflictDoUpdate({
      target: t.surveyResponses.requestId,
      set: { respondentId, score: answer.score, comment },
    });
  return readSurvey(db, requestId);
}
