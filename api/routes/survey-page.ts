import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { findRequestWithItem } from '../../requests/index.js';
import { htmlPages } from '../schemas/common.js';
import { verifySurveyToken } from '../../runtime/survey-links.js';
import { HttpProblem } from '../errors.js';
import { RequestId } from '../schemas/requests.js';
import { SurveyFormBody, SurveyPageQuery } from '../schemas/surveys.js';
import { readSurvey, saveSurveyAnswer, type Survey } from '../../surveys/index.js';

// The page behind the survey link of a fulfillment notification. The signed token in
// the link (runtime/survey-links.ts) names the requester, so no login is needed; it
// never expires and may be used again: a second answer replaces the first.

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer"><title>${escape(title)} · reqflow</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
fieldset{border:0;padding:0}label.score{margin-right:1rem}textarea{width:100%;min-height:5rem}
button{font-size:1rem;padding:.5rem 1.5rem}</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

type Status = 200 | 400 | 403 | 404 | 409;

function send(reply: FastifyReply, status: Status, title: string, body: string) {
  return (
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      // The token in the address is a credential: keep it out of caches and Referer headers.
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .send(page(title, body))
  );
}

class PageRefusal extends Error {
  constructor(
    readonly status: Exclude<Status, 200>,
    readonly title: string,
    text: string,
  ) {
    super(text);
  }
}

const LABELS = ['', 'Very dissatisfied', 'Dissatisfied', 'Neutral', 'Satisfied', 'Very satisfied'];
const Params = Type.Object({ requestId: RequestId });

const surveyPageRoutes: FastifyPluginAsyncTypebox<{ db: DB; secret: string }> = async (
  app,
  { db, secret },
) => {
  // The token in the query is a bearer credential: no cache keeps the page, no Referer carries it on.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  // People open this page in a browser: refusals and invalid answers are pages too, not problem+json.
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error instanceof PageRefusal)
      return send(reply, error.status, error.title, `<p>${escape(error.message)}</p>`);
    if (error.validation)
      return send(
        reply,
        400,
        'Your answer could not be read',
        '<p>Choose a score from 1 to 5 (the comment may have up to 2000 characters), then send it again.</p>',
      );
    if (error instanceof HttpProblem && error.statusCode < 500)
      return send(
        reply,
        error.statusCode as Exclude<Status, 200>,
        'Your answer was not recorded',
        `<p>${escape(error.message)}</p>`,
      );
    // Anything else is ours: the app's error handler logs it and masks it.
    throw error;
  });

  /** The request and its requester, once the link is shown to be genuine and the survey open. */
  async function open(requestId: string, token: string | undefined) {
    if (!token)
      throw new PageRefusal(
        400,
        'This link is not valid',
        'The link is incomplete. Open it again from the notification.',
      );
    const check = verifySurveyToken(secret, requestId, token);
    if (!check.ok) {
      if (check.reason === 'malformed')
        throw new PageRefusal(
          400,
          'This link is not valid',
          'The link is damaged. Open it again from the notification.',
        );
      throw new PageRefusal(
        403,
        'This link is not valid',
        'The link was not issued by reqflow, or it was altered. Nothing was changed.',
      );
    }
    const row = await findRequestWithItem(db, requestId);
    if (!row) throw new PageRefusal(404, 'Request not found', `There is no request ${requestId}.`);
    if (row.req.requesterId !== check.requester)
      throw new PageRefusal(
        403,
        'This link is not valid',
        'This survey link was not issued to the requester. Nothing was changed.',
      );
    if (row.req.status !== 'fulfilled')
      throw new PageRefusal(
        409,
        'The survey is not open',
        `Request ${requestId} is ${row.req.status}; the survey opens once it is fulfilled.`,
      );
    return { ...row, requester: check.requester, token };
  }

  function form(requestId: string, itemName: string, token: string, previous: Survey): string {
    const radios = [1, 2, 3, 4, 5]
      .map(
        (n) =>
          `<label class="score"><input type="radio" name="score" value="${n}" required${previous.score === n ? ' checked' : ''}> ${n} <small>${LABELS[n]}</small></label>`,
      )
      .join('\n');
    return `<form method="post" action="?t=${escape(encodeURIComponent(token))}">
<fieldset><legend>How satisfied are you with how request ${escape(requestId)} (${escape(itemName)}) was handled?</legend>
${radios}</fieldset>
<p><label>Comment (optional)<br><textarea name="comment" maxlength="2000">${escape(previous.comment ?? '')}</textarea></label></p>
<p><button type="submit">${previous.answered ? 'Update my answer' : 'Send'}</button></p></form>
${previous.answered ? '<p>You already answered; sending again replaces your answer.</p>' : ''}`;
  }

  app.get(
    '/:requestId',
    {
      schema: {
        tags: ['requests'],
        summary: 'Satisfaction survey page (link from the fulfillment notification)',
        params: Params,
        querystring: SurveyPageQuery,
        response: htmlPages(200, 400, 403, 404, 409),
      },
    },
    async (request, reply) => {
      const { requestId } = request.params;
      const { itemName, token } = await open(requestId, request.query.t);
      const previous = await readSurvey(db, requestId);
      return send(reply, 200, `How did we do on ${requestId}?`, form(requestId, itemName, token, previous));
    },
  );

  app.post(
    '/:requestId',
    {
      schema: {
        tags: ['requests'],
        summary: 'Satisfaction survey page: record the answer (again: replaces it)',
        params: Params,
        querystring: SurveyPageQuery,
        body: SurveyFormBody,
        response: htmlPages(200, 400, 403, 404, 409),
      },
    },
    async (request, reply) => {
      const { requestId } = request.params;
      const { requester, token } = await open(requestId, request.query.t);
      const { score, comment } = request.body;
      await saveSurveyAnswer(db, requestId, requester, {
        score: Number(score),
        ...(comment ? { comment } : {}),
      });
      return send(
        reply,
        200,
        'Thank you',
        `<p>Your answer for request ${escape(requestId)} was recorded: ${score} (${escape(LABELS[Number(score)] ?? '')}).</p>
<p><a href="?t=${escape(encodeURIComponent(token))}">Change my answer</a></p>`,
      );
    },
  );
};

export default surveyPageRoutes;
