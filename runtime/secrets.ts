import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';

function writePrivate(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * The token-signing secret: REQFLOW_SECRET, or in dev mode one generated once into
 * DATA_DIR so tokens survive a restart of the embedded stack.
 */
export function resolveSecret(config: Config): string {
  if (config.secret) return config.secret;
  if (!config.devMode)
    throw new Error('REQFLOW_SECRET must be set (at least 32 characters) outside dev mode.');
  const file = join(config.dataDir, 'secret');
  if (!existsSync(file)) writePrivate(file, randomBytes(32).toString('hex'));
  return readFileSync(file, 'utf8').trim();
}
