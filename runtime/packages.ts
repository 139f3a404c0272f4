import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A deployment package as endpoint managers (Intune, SCCM, Munki) shape it:
 * a manifest and three scripts. `detect` exits 0 when the software is already
 * there, so a retried or duplicated job never installs twice.
 */
export interface DeploymentPackage {
  id: string;
  name: string;
  version: string;
  /** Longest any one script may run before the agent kills it. */
  timeoutSeconds: number;
  scripts: { detect: string; install: string; uninstall: string };
}

interface Manifest {
  id: string;
  name: string;
  version: string;
  timeoutSeconds?: number;
  scripts?: Partial<Record<'detect' | 'install' | 'uninstall', string>>;
}

const ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

export class PackageNotFoundError extends Error {}

/**
 * Reads package `id` from `folder`, where the catalog names one for it, else from the first of
 * `dirs` that has it.
 */
export function loadPackage(dirs: readonly string[], id: string, folder?: string): DeploymentPackage {
  if (!ID.test(id)) throw new PackageNotFoundError(`invalid package id "${id}"`);
  const roots = folder ? [folder] : dirs.map((dir) => join(dir, id));
  for (const root of roots) {
    const manifestFile = join(root, 'manifest.json');
    if (!existsSync(manifestFile)) continue;
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    const script = (name: 'detect' | 'install' | 'uninstall') =>
      readFileSync(join(root, manifest.scripts?.[name] ?? `${name}.sh`), 'utf8');
    return {
      id: manifest.id,
      name: manifest.name,
      version: manifest.version,
      timeoutSeconds: manifest.timeoutSeconds ?? 300,
      scripts: { detect: script('detect'), install: script('install'), uninstall: script('uninstall') },
    };
  }
  throw new PackageNotFoundError(`package "${id}" not found in ${roots.join(', ')}`);
}
