import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../runtime/config.js';

// Builds the portal (portal/ -> dist/portal) when its sources changed since the last build.
// `npm install` (prepare), `npm start` (prestart) and the test setup call it, so nobody has
// to remember a build step; an unchanged portal costs one walk over its files.

export const portalSources = join(repoRoot, 'portal');
export const portalBuild = join(repoRoot, 'dist/portal');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when dist/portal is missing or older than a file under portal/ (or the lock file). */
export function portalIsStale(): boolean {
  const index = join(portalBuild, 'index.html');
  if (!existsSync(index)) return true;
  const sources = Math.max(
    newestSource(portalSources),
    statSync(join(repoRoot, 'package-lock.json')).mtimeMs,
  );
  return sources > statSync(index).mtimeMs;
}

export async function buildPortal(opts: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  if (!opts.force && !portalIsStale()) return false;
  // Imported here: a fresh build is the only time vite needs loading.
  const { build } = await import('vite');
  // Vite and its React plugin read NODE_ENV (vitest sets it to "test"): anything but
  // "production" compiles JSX for React's development runtime, which the production build of
  // React lacks, and the app would not start.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(portalSources, 'vite.config.ts'),
      logLevel: opts.quiet ? 'warn' : 'info',
    });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  return true;
}

if (process.argv[1] && relative(process.argv[1], import.meta.filename) === '') {
  const force = process.argv.includes('--force');
  buildPortal({ force }).then(
    (built) => {
      if (!built) console.log(`portal: ${relative(repoRoot, portalBuild)} is up to date`);
    },
    (err: unknown) => {
      console.error('portal build failed:', err);
      process.exitCode = 1;
    },
  );
}
