import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { eq, or } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { ciHolder, getCi, personCis } from '../../cmdb/index.js';
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
      const ci = db.select().from(t.cmdbCis).where(eq(t.cmdbCis.id, id)).get();
      const relationships = db
        .select()
        .from(t.cmdbRelationships)
        .where(or(eq(t.cmdbRelationships.sourceCiId, id), eq(t.cmdbRelationships.targetCiId, id)))
        .all();
      const installed = db
        .select({ ci: t.cmdbCis })
        .from(t.cmdbRelationships)
        .innerJoin(t.cmdbCis, eq(t.cmdbCis.id, t.cmdbRelationships.sourceCiId))
        .where(eq(t.cmdbRelationships.targetCiId, id))
        .all()
        .filter((r) => r.ci.ciClass === 'software_install');
      const str = (v: unknown) => (typeof v === 'string' ? v : null);
      return {
        id: device.id,
        class: 'computer' as const,
        name: ci?.name ?? device.name,
        owner: device.ownerId,
        platform: device.platform,
        hostname: device.hostname,
        state: device.state,
        enrolledAt: device.enrolledAt,
        unenrolledAt: device.unenrolledAt,
        lastSeenAt: device.lastSeenAt,
        installedSoftware: installed.map(({ ci: s }) => ({
          ciId: s.id,
          name: s.name,
          version: str(s.attributes.version),
          installedAt: str(s.attributes.installedAt),
          requestId: str(s.attributes.requestId),
        })),
        relationships: relationships.map((r) => ({
          type: r.type,
          source: r.sourceCiId,
          target: r.targetCiId,
          requestId: r.requestId,
          createdAt: r.createdAt,
        })),
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
      const known = db.select({ id: t.users.id }).from(t.users).where(eq(t.users.id, id)).get();
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
