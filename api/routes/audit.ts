import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { asc, eq } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import { verifyAuditChain } from '../../audit/verify.js';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { forbidden } from '../errors.js';
import { AuditChainStatus, AuditQuery, AuditTrail } from '../schemas/audit.js';
import { authProblems, problemRef } from '../schemas/common.js';

// The trail names who approved what and which groups people were added to: it is
// for the people who run the system (operators) and those who check it (auditors).
async function requireAuditor(request: FastifyRequest): Promise<void> {
  const { isOperator, groups } = request.principal;
  if (!isOperator && !groups.includes('auditors')) {
    throw forbidden('The audit log is open to operators and members of the auditors group.');
  }
}

const auditRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  const preHandler = [app.authenticate, requireAuditor];
  const problems = { ...authProblems, 403: problemRef };

  app.get(
    '/',
    {
      preHandler,
      schema: {
        tags: ['audit'],
        summary: 'The audit trail in seq order, optionally for one request (operators, auditors)',
        security: [{ bearerAuth: [] }],
        querystring: AuditQuery,
        response: { 200: AuditTrail, ...problems },
      },
    },
    async (request) => {
      const { requestId, limit = 100, offset = 0 } = request.query;
      const items = await db
        .select({
          seq: t.auditLog.seq,
          at: t.auditLog.at,
          actor: t.auditLog.actor,
          action: t.auditLog.action,
          requestId: t.auditLog.requestId,
          subject: t.auditLog.subject,
          details: t.auditLog.details,
          prevHash: t.auditLog.prevHash,
          hash: t.auditLog.hash,
        })
        .from(t.auditLog)
        .where(requestId ? eq(t.auditLog.requestId, requestId) : undefined)
        .orderBy(asc(t.auditLog.seq))
        .limit(limit)
        .offset(offset);
      return { items };
    },
  );

  app.get(
    '/verify',
    {
      preHandler,
      schema: {
        tags: ['audit'],
        summary: 'Walks the hash chain and names the first deleted, changed or re-chained entry',
        security: [{ bearerAuth: [] }],
        response: { 200: AuditChainStatus, ...problems },
      },
    },
    // A broken chain is a finding, not a failed request: 200 with ok=false and the entry.
    async () => verifyAuditChain(db),
  );
};

export default auditRoutes;
