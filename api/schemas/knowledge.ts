import { Type, type Static } from 'typebox';

export const KnowledgeQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 200, description: 'A question or keywords, in plain words' }),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 5 })),
  },
  { additionalProperties: false },
);
export type KnowledgeQuery = Static<typeof KnowledgeQuery>;

export const KnowledgeHit = Type.Object({
  id: Type.String(),
  title: Type.String(),
  snippet: Type.String({ description: 'Part of the body around the matched words, marked with [brackets]' }),
  body: Type.String(),
  score: Type.Number({
    description: 'Negated bm25: higher is more relevant; compare within one result list',
  }),
  coverage: Type.Number({
    minimum: 0,
    maximum: 1,
    description: "Share of the question's search terms found in the article",
  }),
});

export const KnowledgeResults = Type.Object({ items: Type.Array(KnowledgeHit) });

export const KnowledgeArticleParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const KnowledgeArticle = Type.Object({
  id: Type.String(),
  title: Type.String(),
  body: Type.String(),
  tags: Type.Array(Type.String(), { description: 'Extra search words' }),
  updatedAt: Type.String({ description: 'ISO-8601 UTC' }),
});
