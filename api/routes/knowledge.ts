import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { eq } from 'drizzle-orm';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { searchKnowledge } from '../../knowledge/search.js';
import { notFound } from '../errors.js';
import { authProblems, problemRef } from '../schemas/common.js';
import {
  KnowledgeArticle,
  KnowledgeArticleParams,
  KnowledgeQuery,
  KnowledgeResults,
} from '../schemas/knowledge.js';

// The knowledge base is for everyone who can log in: articles hold nothing a
// colleague may not read, so there is no per-article visibility.
const knowledgeRoutes: FastifyPluginAsyncTypebox<{ db: DB }> = async (app, { db }) => {
  app.get(
    '/',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['knowledge'],
        summary: 'Searches the knowledge base, best match first',
        security: [{ bearerAuth: [] }],
        querystring: KnowledgeQuery,
        response: { 200: KnowledgeResults, ...authProblems },
      },
    },
    async (request) => {
      const { q, limit = 5 } = request.query;
      return { items: await searchKnowledge(db, q, limit) };
    },
  );

  app.get(
    '/:id',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['knowledge'],
        summary: 'One knowledge article',
        security: [{ bearerAuth: [] }],
        params: KnowledgeArticleParams,
        response: { 200: KnowledgeArticle, ...authProblems, 404: problemRef },
      },
    },
    async (request) => {
      const { id } = request.params;
      const [article] = await db
        .select()
        .from(t.knowledgeArticles)
        .where(eq(t.knowledgeArticles.id, id))
        .limit(1);
      if (!article) throw notFound(`Knowledge article ${id} not found.`);
      return {
        id: article.id,
        title: article.title,
        body: article.body,
        tags: article.tags.split(/\s+/).filter(Boolean),
        updatedAt: article.updatedAt,
      };
    },
  );
};

export default knowledgeRoutes;
