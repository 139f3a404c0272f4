import { recordAudit, type AuditInput } from '../audit/log.js';
import { clock, type ActivityDeps } from './deps.js';

// Callers from before the audit aggregate had its own module import these from here.
export { appendAudit, type AuditInput } from '../audit/log.js';

/** The workflows' side of the audit log (audit/log.ts writes it). */
export function createAuditActivities(deps: ActivityDeps) {
  const now = clock(deps);
  return {
    async recordAudit(input: AuditInput): Promise<{ seq: number }> {
      return { seq: (await recordAudit(deps.db, now(), input)).seq };
    },
  };
}
