import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { eq } from 'drizzle-orm';
import { Type } from 'typebox';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { CatalogItem } from '../schemas/catalog.js';
import { authProblems } from '../schemas/common.js';

const catalogRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.get(
    '/',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['catalog'],
        summary: 'The service catalog',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ items: Type.Array(CatalogItem) }), ...authProblems },
      },
    },
    async (request) => {
      const role = request.principal.roleId;
      const items = db.select().from(t.catalogItems).where(eq(t.catalogItems.active, true)).all();
      return {
        items: items.map((i) => ({
          id: i.id,
          name: i.name,
          type: i.type,
          description: i.description,
          sensitivity: i.sensitivity,
          changeModel: i.changeModel,
          allowedRoles: i.allowedRoles,
          entitled: !i.allowedRoles || i.allowedRoles.includes(role),
          formFields: i.formFields,
        })),
      };
    },
  );
};

export default catalogRoutes;
