import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { ciHolder, deviceCi, getCi, personCis } from '../../cmdb/index.js';
import { getDevice } from '../../devices/index.js';
import { notFound } from '../errors.js';
import { CiView, PersonCisView } from '../schemas/cmdb.js';
import { authProblems, problemRef } from '../schemas/common.js';
import { DeviceView } from '../schemas/devices.js';

const Relationship = Type.Object({
  type: Type.String(),
  source: Type.String(),
  target: Type.String(),
  requestId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});

const DeviceCi = Type.Object({
  id: Type.String(),
  class: Type.Literal('computer'),
  name: Type.String(),
  owner: Type.String(),
  platform: Type.String(),
  hostname: DeviceView.properties.hostname,
  state: DeviceView.properties.state,
  enrolledAt: DeviceView.properties.enrolledAt,
  unenrolledAt: DeviceView.properties.unenrolledAt,
  lastSeenAt: Type.Union([Type.String(), Type.Null()]),
  installedSoftware: Type.Array(
    Type.Object({
      ciId: Type.String(),
      name: Type.String(),
      version: Type.Union([Type.String(), Type.Null()]),
      installedAt: Type.Union([Type.String(), Type.Null()]),
      requestId: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  relationships: Type.Array(Relationship),
});

const cmdbRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.get(
    '/devices/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['cmdb'],
        summary: 'A device CI with its installed software and relationships (owner, operators)',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: DeviceCi, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const device = await getDevice(db, id);
      if (!device || (device.ownerId !== request.principal.id && !request.principal.isOperator)) {
        throw notFound(`Device ${id} not found.`);
      }
      const ci = await deviceCi(db, id);
      return {
        id: device.id,
        class: 'computer' as const,
        name: ci.name ?? device.name,
        owner: device.ownerId,
        platform: device.platform,
        hostname: device.hostname,
        state: device.state,
        enrolledAt: device.enrolledAt,
        unenrolledAt: device.unenrolledAt,
        lastSeenAt: device.lastSeenAt,
        installedSoftware: ci.installedSoftware,
        relationships: ci.relationships,
      };
    },
  );

  app.get(
    '/users/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['cmdb'],
        summary:
          "A person's CIs: the devices they own and the hardware assets delivered to them (themselves, operators)",
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: PersonCisView, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const [known] = await db.select({ id: t.users.id }).from(t.users).where(eq(t.users.id, id)).limit(1);
      if (!known || (id !== request.principal.id && !request.principal.isOperator)) {
        throw notFound(`User ${id} not found.`);
      }
      return personCis(db, id);
    },
  );

  app.get(
    '/cis/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['cmdb'],
        summary:
          'One CI (computer, installed software, hardware asset) with its relationships (its holder, operators)',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: CiView, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const ci = await getCi(db, id);
      // Someone else's CI answers as an unknown one: ids such as asset tags must not be probed.
      if (!ci || (!request.principal.isOperator && (await ciHolder(db, ci)) !== request.principal.id)) {
        throw notFound(`CI ${id} not found.`);
      }
      return ci;
    },
  );
};

export default cmdbRoutes;
