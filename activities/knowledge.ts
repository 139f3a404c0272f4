import { searchKnowledge as searchArticles, type KnowledgeHit } from '../knowledge/search.js';
import type { ActivityDeps } from './deps.js';

export type { KnowledgeHit } from '../knowledge/search.js';

export interface KnowledgeSearchInput {
  /** The requester's question in their own words. */
  query: string;
  limit?: number;
}

export function createKnowledgeActivities({ db }: ActivityDeps) {
  return {
    /**
     * Best-matching articles first, [] when nothing matches; a read, so retries are harmless.
     * The workflow decides from `score` whether the top hit answers the question.
     */
    async searchKnowledge(input: KnowledgeSearchInput): Promise<KnowledgeHit[]> {
      return searchArticles(db, input.query, input.limit);
    },
  };
}
