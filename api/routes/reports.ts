import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Client } from '@temporalio/client';
import { desc, eq } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { isMonthOver, reportId, type MonthlyReport } from '../../metrics/report.js';
import type { Config } from '../../runtime/config.js';
import { monthlyReport } from '../workflow-contract.js';
import { forbidden, notFound, unavailable, unprocessable } from '../errors.js';
import { authProblems, problemRef } from '../schemas/common.js';
import {
  BackfillReportBody,
  ListReportsQuery,
  Report,
  ReportList,
  ReportParams,
} from '../schemas/reports.js';

// How long POST /api/reports waits for the report workflow; computing a month takes seconds.
const BACKFILL_WAIT_MS = 30_000;

type ReportRow = typeof t.reports.$inferSelect;

function summary(row: ReportRow) {
  const body = row.body as MonthlyReport;
  return {
    id: row.id,
    period: row.period,
    from: row.periodFrom,
    to: row.periodTo,
    generatedBy: row.generatedBy,
    generatedAt: row.generatedAt,
    workflowId: row.workflowId,
    fulfilled: body.byType.reduce((n, g) => n + g.fulfilled, 0),
    goalsMet: body.comparisons.filter((c) => c.met === true).length,
    goalsMissed: body.comparisons.filter((c) => c.met === false).length,
    links: { self: `/api/reports/${row.id}` },
  };
}

const view = (row: ReportRow) => ({ ...summary(row), body: row.body as MonthlyReport });

/** Continual improvement: the monthly fulfillment reports (runtime/schedules.ts makes them). */
const reportsRoutes: FastifyPluginAsyncTypebox<{ db: DB; temporal: Client; config: Config }> = async (
  app,
  { db, temporal, config },
) => {
  // Those who run the service (operators), check it (auditors) or answer for part of it
  // (service owners of a catalog item) read the reports.
  async function requireReader(request: FastifyRequest): Promise<void> {
    const { id, isOperator, groups } = request.principal;
    if (isOperator || groups.includes('auditors')) return;
    const [owns] = await db
      .select({ id: t.catalogItems.id })
      .from(t.catalogItems)
      .where(eq(t.catalogItems.serviceOwnerId, id))
      .limit(1);
    if (!owns)
      throw forbidden('Reports are open to operators, auditors and the service owners of catalog items.');
  }
  const problems = { ...authProblems, 403: problemRef };

  async function findReport(id: string) {
    const [row] = await db.select().from(t.reports).where(eq(t.reports.id, id)).limit(1);
    return row;
  }

  app.get(
    '/',
    {
      preHandler: [app.authenticate, requireReader],
      schema: {
        tags: ['reports'],
        summary: 'Monthly fulfillment reports, newest month first (operators, auditors, service owners)',
        security: [{ bearerAuth: [] }],
        querystring: ListReportsQuery,
        response: { 200: ReportList, ...problems },
      },
    },
    async (request) => {
      const { limit = 24, offset = 0 } = request.query;
      const rows = await db
        .select()
        .from(t.reports)
        .orderBy(desc(t.reports.period))
        .limit(limit)
        .offset(offset);
      return { items: rows.map(summary) };
    },
  );

  app.get(
    '/:id',
    {
      preHandler: [app.authenticate, requireReader],
      schema: {
        tags: ['reports'],
        summary: 'One monthly report: figures by type and catalog item, and each item against its goal',
        security: [{ bearerAuth: [] }],
        params: ReportParams,
        response: { 200: Report, ...problems, 404: problemRef },
      },
    },
    async (request) => {
      const row = await findReport(request.params.id);
      if (!row) throw notFound(`Report ${request.params.id} not found.`);
      return view(row);
    },
  );

  app.post(
    '/',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['reports'],
        summary: "Produce (or produce again) a past month's report (operators)",
        description:
          'Runs the monthly report workflow (id `report-YYYY-MM`) for the month, waits for it and returns ' +
          'the stored report. A month that is over always gives the same figures; service owners are ' +
          'notified once per month, however often it runs.',
        security: [{ bearerAuth: [] }],
        body: BackfillReportBody,
        response: { 201: Report, ...problems, 422: problemRef, 503: problemRef },
      },
    },
    async (request, reply) => {
      if (!request.principal.isOperator) throw forbidden('Producing reports is for operators.');
      const { period } = request.body;
      if (!isMonthOver(period, new Date()))
        throw unprocessable(`${period} is not over yet: a report covers a past month.`);
      const workflowId = `report-${period}`;
      const handle = await temporal.workflow.start(monthlyReport, {
        workflowId,
        taskQueue: config.temporal.taskQueue,
        args: [{ period, generatedBy: request.principal.id }],
        // Two operators asking at once share one run; a finished run may be repeated.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        handle.result().then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), BACKFILL_WAIT_MS))),
      ]).finally(() => clearTimeout(timer));
      if (!finished) {
        throw unavailable(
          `Workflow ${workflowId} has not finished within ${BACKFILL_WAIT_MS / 1000} s (is a worker running?); ` +
            `it goes on, and GET /api/reports/${reportId(period)} shows the report when it is done.`,
        );
      }
      const row = await findReport(reportId(period));
      // The worker writes to another database than this API reads: a deployment mistake.
      if (!row)
        throw new Error(`Workflow ${workflowId} finished, but report ${reportId(period)} is missing.`);
      return reply.code(201).header('location', `/api/reports/${row.id}`).send(view(row));
    },
  );
};

export default reportsRoutes;
