import { recordSoftwareInstall } from '../cmdb/records.js';
import { clock, type ActivityDeps } from './deps.js';

export interface SoftwareInstallInput {
  requestId: string;
  deviceId: string;
  packageId: string;
  product: string;
  version: string;
}

/** Thin adapters over the CMDB (cmdb/records.ts). */
export function createCmdbActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /** Records the installed software as a CI related `installed_on` the device CI. Upserts, so retries are safe. */
    async recordSoftwareInstall(input: SoftwareInstallInput): Promise<{ ciId: string }> {
      return recordSoftwareInstall(db, { ...input, at: now() });
    },
  };
}
