import * as t from '../db/schema.js';
import type { ActivityDeps } from './deps.js';

export interface FeedbackRoute {
  serviceId: string | null;
  serviceName: string;
  /** The service owner, or null when the service is not recognised (the service desk triages it). */
  ownerId: string | null;
}

const words = (s: string) =>
  s
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);

export function createFeedbackActivities({ db }: ActivityDeps) {
  return {
    /**
     * Finds the service the feedback names: its id, its name, or one of its aliases
     * anywhere in what the person typed ("the new expense system" finds Expense system).
     */
    async routeFeedback(input: { service: string }): Promise<FeedbackRoute> {
      const said = new Set(words(input.service));
      const all = await db.select().from(t.services);
      const score = (s: (typeof all)[number]) =>
        [s.id, ...words(s.name), ...words(s.aliases)].filter(
          (w) => said.has(w) || said.has(w.replace(/-/g, '')),
        ).length;
      const best = all
        .map((s) => ({ s, n: score(s) }))
        .filter((x) => x.n > 0)
        .sort((a, b) => b.n - a.n)[0]?.s;
      return best
        ? { serviceId: best.id, serviceName: best.name, ownerId: best.ownerId }
        : { serviceId: null, serviceName: input.service, ownerId: null };
    },
  };
}
