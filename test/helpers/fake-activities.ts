import { createActivities, type Activities, type ActivityDeps } from '../../activities/index.js';

/**
 * Completes a set of typed fake activities: every activity a test does not fake
 * throws when called, so a workflow reaching for an unexpected activity fails loudly.
 */
export function fakeActivities(fakes: Partial<Activities>): Activities {
  // Building the factory's object touches no dependency; it only lists the names.
  const names = Object.keys(createActivities({} as ActivityDeps)) as (keyof Activities)[];
  const all: Record<string, unknown> = {};
  for (const name of names) {
    all[name] =
      fakes[name] ??
      (async () => {
        throw new Error(`activity ${name} is not faked in this test`);
      });
  }
  return all as Activities;
}
