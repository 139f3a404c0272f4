import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import {
  DeviceRefusedError,
  enrollDevice,
  issueEnrollment,
  listDevices,
  unenrollDevice,
  type DeviceRefusal,
} from '../../devices/index.js';
import { forbidden, HttpProblem, notFound } from '../errors.js';
import { authProblems, deviceAuthProblems, problemRef } from '../schemas/common.js';
import {
  CreateEnrollmentBody,
  DeviceId,
  DeviceList,
  DeviceView,
  EnrollBody,
  EnrolledDevice,
  Enrollment,
  ListDevicesQuery,
  UnenrollBody,
} from '../schemas/devices.js';

/** How each refusal of the devices aggregate answers over HTTP. */
const REFUSAL_STATUS: Record<DeviceRefusal, [number, string]> = {
  owner_unknown: [422, 'Unprocessable Content'],
  token_unknown: [401, 'Unauthorized'],
  token_used: [409, 'Conflict'],
  // Gone, not 401: the token was genuine, and the agent should tell its user to ask for a new one.
  token_expired: [410, 'Gone'],
  owner_inactive: [403, 'Forbidden'],
};

async function refused<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (!(err instanceof DeviceRefusedError)) throw err;
    const [status, title] = REFUSAL_STATUS[err.reason];
    throw new HttpProblem(status, title, err.message);
  }
}

async function requireOperator(request: FastifyRequest): Promise<void> {
  if (!request.principal.isOperator) throw forbidden('Only operators enroll and unenroll devices.');
}

/** The enrollment token travels like every other credential: `Authorization: Bearer <token>`. */
function enrollmentToken(request: FastifyRequest): string {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match?.[1]) {
    throw new HttpProblem(
      401,
      'Unauthorized',
      'Send the enrollment token as "Authorization: Bearer <token>".',
    );
  }
  return match[1];
}

const devicesRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  const operator = [app.authenticate, requireOperator];

  app.post(
    '/enrollments',
    {
      preHandler: operator,
      schema: {
        tags: ['devices'],
        summary: 'Issue a single-use enrollment token for a device of ownerId (operators)',
        description:
          'The token is in this answer only. Hand it to whoever sets up the device, who runs ' +
          '`npm run agent -- enroll --api <url> --token <token>`. Audited as device.enrollment_issued.',
        security: [{ bearerAuth: [] }],
        body: CreateEnrollmentBody,
        response: { 201: Enrollment, ...authProblems, 403: problemRef, 422: problemRef },
      },
    },
    async (request, reply) => {
      const { ownerId, expiresIn } = request.body;
      const issued = await refused(
        issueEnrollment(db, {
          ownerId,
          createdBy: request.principal.id,
          ...(expiresIn !== undefined ? { expiresInSeconds: expiresIn } : {}),
        }),
      );
      return reply.code(201).send(issued);
    },
  );

  app.post(
    '/enroll',
    {
      schema: {
        tags: ['devices'],
        summary: "Register a device with an enrollment token; the answer carries the device's own token",
        description:
          'Spends the enrollment token (once: 409 after that, also for the loser of two simultaneous calls; 410 once it ' +
          "expired; 401 if unknown; 403 if its owner was deactivated since). The device belongs to the token's owner. " +
          'Audited as device.enrolled.',
        security: [{ enrollmentToken: [] }],
        body: EnrollBody,
        response: {
          201: EnrolledDevice,
          ...deviceAuthProblems,
          403: problemRef,
          409: problemRef,
          410: problemRef,
        },
      },
    },
    async (request, reply) => {
      const enrolled = await refused(enrollDevice(db, enrollmentToken(request), request.body));
      request.log.info({ deviceId: enrolled.deviceId, ownerId: enrolled.ownerId }, 'device enrolled');
      return reply.code(201).send(enrolled);
    },
  );

  app.get(
    '/',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['devices'],
        summary: "My devices (operators: all, or one owner's)",
        security: [{ bearerAuth: [] }],
        querystring: ListDevicesQuery,
        response: { 200: DeviceList, ...authProblems, 403: problemRef },
      },
    },
    async (request) => {
      const { principal } = request;
      const { ownerId, state, limit = 100, offset = 0 } = request.query;
      if (!principal.isOperator && ownerId && ownerId !== principal.id) {
        throw forbidden("Only operators list other people's devices.");
      }
      const devices = await listDevices(db, { ownerId: principal.isOperator ? ownerId : principal.id });
      const items = state ? devices.filter((d) => d.state === state) : devices;
      return { items: items.slice(offset, offset + limit) };
    },
  );

  app.post(
    '/:id/unenroll',
    {
      preHandler: operator,
      schema: {
        tags: ['devices'],
        summary: 'Unenroll a device: its token stops working at once (operators)',
        description:
          "The device's next call (or its long poll under way) gets 401 and its agent stops. The device, its CMDB CI and " +
          'history stay; jobs still queued for it are not withdrawn, so their requests escalate when the device wait ' +
          'runs out. Audited as device.unenrolled; unenrolling again changes nothing.',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: DeviceId }),
        body: UnenrollBody,
        response: { 200: DeviceView, ...authProblems, 403: problemRef, 404: problemRef },
      },
    },
    async (request) => {
      const device = await unenrollDevice(db, {
        deviceId: request.params.id,
        actor: request.principal.id,
        reason: request.body.reason,
      });
      if (!device) throw notFound(`Device ${request.params.id} not found.`);
      return device;
    },
  );
};

export default devicesRoutes;
