import type { Decision } from '../domain/approval.js';
import { SURVEY_LINK_REF } from '../domain/request.js';
import { signApprovalLink } from '../runtime/approval-links.js';
import { surveyLink } from '../runtime/survey-links.js';

/**
 * Every link a notification carries is built here, from the public URL, so a message
 * from a workflow, an approval and a comment point at the same pages the same way.
 */
export interface LinkOptions {
  /** Base URL people reach the API and portal at (PUBLIC_URL), without a trailing slash. */
  publicUrl: string;
  /**
   * Signs approve/deny and survey links. A writer without it (a route that only ever
   * links to a request) queues plain links, and asking it for a signed one is a bug.
   */
  signing?: {
    secret: string;
    /** How long an approve/deny link stays valid. */
    approvalTtlMs: number;
  };
}

export interface Links {
  /** A path (`/…`) made absolute; a full URL (a launch link) as it is. */
  absolute(pathOrUrl: string): string;
  /** The request's page in the API. */
  request(requestId: string): string;
  /** Approve, deny (each signed for this approver and request only) and the request. */
  approval(requestId: string, approver: string): { approve: string; deny: string; request: string };
  /**
   * A message's links as they go into the outbox: `SURVEY_LINK_REF` becomes the survey link
   * signed for the recipient (here, not in the workflow: the token lives in the outbox row,
   * never in a history), and paths become absolute.
   */
  resolve(
    links: Record<string, string>,
    ctx: { requestId?: string; recipient: string },
  ): Record<string, string>;
}

export function createLinks(options: LinkOptions): Links {
  const { publicUrl } = options;
  const signing = () => {
    if (!options.signing) throw new Error('notification links: signed links need a signing secret');
    return options.signing;
  };
  const absolute = (pathOrUrl: string) =>
    pathOrUrl.startsWith('/') ? `${publicUrl}${pathOrUrl}` : pathOrUrl;
  const request = (requestId: string) => `${publicUrl}/api/requests/${requestId}`;
  return {
    absolute,
    request,
    approval(requestId, approver) {
      const { secret, approvalTtlMs } = signing();
      const link = (decision: Decision) =>
        absolute(
          `/approvals/links/${signApprovalLink(secret, { requestId, approver, decision }, approvalTtlMs)}`,
        );
      return { approve: link('approve'), deny: link('deny'), request: request(requestId) };
    },
    resolve(links, { requestId, recipient }) {
      return Object.fromEntries(
        Object.entries(links).map(([name, value]) => [
          name,
          absolute(
            value === SURVEY_LINK_REF && requestId
              ? surveyLink(signing().secret, requestId, recipient)
              : value,
          ),
        ]),
      );
    },
  };
}
