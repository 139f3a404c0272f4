import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DB } from '../../db/client.js';
import type * as t from '../../db/schema.js';
import { createCatalog, formatChanges, formatError } from '../../service-catalog/index.js';
import { forbidden, notFound, unprocessable } from '../errors.js';
import {
  CatalogItemDetail,
  CatalogItemParams,
  CatalogItemQuery,
  CatalogList,
  CatalogListQuery,
  CatalogReloadResult,
} from '../schemas/catalog.js';
import { authProblems, problemRef } from '../schemas/common.js';

type ItemRow = typeof t.catalogItems.$inferSelect;

function summary(i: ItemRow, role: string) {
  return {
    id: i.id,
    name: i.name,
    type: i.type,
    category: i.category,
    description: i.description,
    sensitivity: i.sensitivity,
    changeModel: i.changeModel,
    allowedRoles: i.allowedRoles,
    entitled: !i.allowedRoles || i.allowedRoles.includes(role),
    formFields: i.formFields,
    version: i.version,
  };
}

const catalogRoutes: FastifyPluginAsyncTypebox<{ db: DB; catalogDir: string }> = async (
  app,
  { db, catalogDir },
) => {
  const catalog = createCatalog({ db, dir: catalogDir });

  app.get(
    '/',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['catalog'],
        summary: 'The service catalog, by category, with search',
        security: [{ bearerAuth: [] }],
        querystring: CatalogListQuery,
        response: { 200: CatalogList, ...authProblems },
      },
    },
    async (request) => {
      const { q, category } = request.query;
      const matching = await catalog.listItems(q ? { q } : {});
      const counts = new Map<string, number>();
      for (const i of matching) counts.set(i.category, (counts.get(i.category) ?? 0) + 1);
      return {
        items: matching
          .filter((i) => !category || i.category === category)
          .map((i) => summary(i, request.principal.roleId)),
        categories: [...counts].map(([name, count]) => ({ name, count })),
      };
    },
  );

  // `reload` is not an item: POST /reload is, and GET /reload must not look like a GET of an item.
  app.get(
    '/:id(^(?!reload$)[A-Za-z0-9._~-]+$)',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['catalog'],
        summary: 'One catalog item with the form the portal renders',
        description:
          'With `version`, the item as that version defined it: what a request submitted against it (its ' +
          '`catalogItemVersion`) was decided by. A retired item is still shown, with `active: false`.',
        security: [{ bearerAuth: [] }],
        params: CatalogItemParams,
        querystring: CatalogItemQuery,
        response: { 200: CatalogItemDetail, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { version } = request.query;
      const live = await catalog.getItem(id);
      const item = version ? await catalog.itemAsOrdered(id, version) : live;
      if (!live || !item || (version && item.version !== version)) {
        throw notFound(`Catalog item ${id}${version ? ` version ${version}` : ''} not found.`);
      }
      return {
        ...summary(item, request.principal.roleId),
        aliases: item.aliases ?? [],
        active: live.active,
        approvalPolicy: item.approvalPolicy ?? [],
        sla: item.sla,
        bundle: item.bundle?.map((p) => ({ catalogItemId: p.catalogItemId })) ?? null,
        accessDuration: item.accessDuration,
        revokeOnLeave: item.revokeOnLeave,
        renewalApprovalPolicy: item.renewalApprovalPolicy,
      };
    },
  );

  app.post(
    '/reload',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['catalog'],
        summary: 'Check the catalog files and apply them (operators)',
        description:
          'What `npm run catalog -- apply` does: every file is checked first; on any error nothing is applied and the ' +
          'answer is 422 with one entry per error (`path` is `file:line field`). Otherwise the changes are applied in ' +
          'one transaction, each audited with the operator as the actor. Reloading unchanged files changes nothing.',
        security: [{ bearerAuth: [] }],
        response: { 200: CatalogReloadResult, ...authProblems, 422: problemRef },
      },
    },
    async (request) => {
      if (!request.principal.isOperator) throw forbidden('Reloading the catalog is for operators.');
      const { errors, changes } = await catalog.apply(request.principal.id);
      if (errors.length > 0) {
        throw unprocessable(
          `The catalog files have ${errors.length} error(s); nothing was applied: ${errors.map(formatError).join('; ')}`,
          errors.map((e) => ({
            path: `${e.file}:${e.line}${e.field ? ` ${e.field}` : ''}`,
            message: e.message,
          })),
        );
      }
      return { changes, summary: formatChanges(changes) };
    },
  );
};

export default catalogRoutes;
