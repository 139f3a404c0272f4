import { surveyLink } from '../runtime/survey-links.js';
import type { ActivityDeps } from './deps.js';

export function createSurveyActivities(deps: ActivityDeps) {
  return {
    /**
     * The requester's personal survey link (signed, so the page knows who answers without a login).
     * Only requests started before the link was signed at delivery call this (patch
     * `survey-link-at-delivery`); newer ones pass SURVEY_LINK_REF to notify instead.
     */
    async surveyLinkFor(input: { requestId: string; requester: string }): Promise<string> {
      return surveyLink(deps.linkSecret, input.requestId, input.requester);
    },
  };
}
