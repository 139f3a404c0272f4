import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import { findRequestWithItem } from '../../requests/index.js';
import { htmlPages } from '../schemas/common.js';
import { eq } from 'drizzle-orm';
import * as t from '../../db/schema.js';
import { isLinkSpent, spendLink, unspendLink } from '../../approvals/link-tokens.js';
import { verifyApprovalLink, type LinkClaims } from '../../runtime/approval-links.js';
import { decide } from '../decide.js';
import { HttpProblem } from '../errors.js';

// Approve/deny links from approval notifications. Opening a link (GET) only shows a
// confirmation page: mail scanners and link previews open links, and must not decide.
// Confirming (POST) decides, once.

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>${escape(title)} · reqflow</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}
dt{font-weight:600}textarea{width:100%;min-height:5rem}button{font-size:1rem;padding:.5rem 1.5rem}</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

const refusals: Record<
  'malformed' | 'forged' | 'expired' | 'used' | 'inactive',
  [400 | 403 | 409 | 410, string, string]
> = {
  malformed: [
    400,
    'This link is not valid',
    'The link is incomplete or damaged. Open it again from the notification.',
  ],
  forged: [
    403,
    'This link is not valid',
    'The link was not issued by reqflow, or it was altered. Nothing was changed.',
  ],
  expired: [
    410,
    'This link has expired',
    'Nothing was changed. Decide through the API instead: POST /api/requests/:id/approvals.',
  ],
  used: [409, 'This link was already used', 'Each approve/deny link works once. Nothing was changed.'],
  inactive: [
    403,
    'This link no longer works',
    'The approver it was issued to is no longer active; the decision has moved on. Nothing was changed.',
  ],
};

function refuse(reply: FastifyReply, why: keyof typeof refusals) {
  const [status, title, text] = refusals[why];
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page(title, `<p>${escape(text)}</p>`));
}

const TokenParams = Type.Object({ token: Type.String({ minLength: 10, maxLength: 1000 }) });
const ConfirmBody = Type.Object(
  { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);

const approvalLinkRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client; secret: string }> = async (
  app,
  { db, temporal, secret },
) => {
  async function check(token: string): Promise<LinkClaims | keyof typeof refusals> {
    const result = verifyApprovalLink(secret, token);
    if (!result.ok) return result.reason;
    if (await isLinkSpent(db, result.claims.jti)) return 'used';
    // A link is the approver's signature in their absence: it dies with their account.
    const [approver] = await db
      .select({ active: t.users.active, removedAt: t.users.removedAt })
      .from(t.users)
      .where(eq(t.users.id, result.claims.approver))
      .limit(1);
    if (!approver?.active || approver.removedAt) return 'inactive';
    return result.claims;
  }

  // The token in the path is a bearer credential: no cache keeps the page, no Referer carries it on.
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });

  app.get(
    '/:token',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Approve/deny link: a confirmation page (changes nothing)',
        params: TokenParams,
        response: htmlPages(200, 400, 403, 409, 410),
      },
    },
    async (request, reply) => {
      reply.type('text/html; charset=utf-8');
      const claims = await check(request.params.token);
      if (typeof claims === 'string') return refuse(reply, claims);
      const row = await findRequestWithItem(db, claims.requestId);
      const verb = claims.decision === 'approve' ? 'Approve' : 'Deny';
      const details = row
        ? `<dl><dt>Request</dt><dd>${escape(row.req.id)}: ${escape(row.itemName)}</dd>
<dt>Requested by</dt><dd>${escape(row.req.requesterId)}${row.req.beneficiaryId !== row.req.requesterId ? ` for ${escape(row.req.beneficiaryId)}` : ''}</dd>
<dt>Why</dt><dd>${escape(row.req.justification ?? 'No justification given.')}</dd>
<dt>Status</dt><dd>${escape(row.req.status)}</dd></dl>`
        : '';
      return page(
        `${verb} request ${claims.requestId}?`,
        `${details}<form method="post"><p><label>Comment (optional)<br><textarea name="comment" maxlength="2000"></textarea></label></p>
<p><button type="submit">${verb}</button></p></form><p>This link was issued to approver <b>${escape(claims.approver)}</b>. Nothing happens until you confirm.</p>`,
      );
    },
  );

  app.post(
    '/:token',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Approve/deny link: confirm the decision (once)',
        params: TokenParams,
        // A plain POST (no form) is a confirmation without a comment.
        body: Type.Union([ConfirmBody, Type.Null(), Type.Undefined()]),
        response: htmlPages(200, 400, 403, 404, 409, 410),
      },
    },
    async (request, reply) => {
      reply.type('text/html; charset=utf-8');
      const claims = await check(request.params.token);
      if (typeof claims === 'string') return refuse(reply, claims);
      // Spend the token first, so two clicks racing cannot both decide; give it back
      // only if the decision failed for a reason the approver could retry.
      if (!(await spendLink(db, { tokenId: claims.jti, requestId: claims.requestId }))) {
        return refuse(reply, 'used');
      }
      try {
        await decide(db, temporal, {
          requestId: claims.requestId,
          actor: claims.approver,
          slot: claims.approver,
          decision: claims.decision,
          ...(request.body?.comment ? { comment: request.body.comment } : {}),
          via: 'link',
        });
      } catch (err) {
        if (err instanceof HttpProblem) {
          return reply
            .code(err.statusCode as 403 | 404 | 409)
            .send(page('Your decision was not recorded', `<p>${escape(err.message)}</p>`));
        }
        await unspendLink(db, claims.jti);
        throw err;
      }
      const done = claims.decision === 'approve' ? 'approved' : 'denied';
      return page(`Request ${claims.requestId} ${done}`, `<p>Thank you. Your decision was recorded.</p>`);
    },
  );
};

export default approvalLinkRoutes;
