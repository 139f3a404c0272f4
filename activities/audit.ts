import { appendAudit, type AuditInput } from '../audit/log.js';
import { clock, type ActivityDeps } from './deps.js';

/** The workflows' side of the audit log (audit/log.ts writes it). */
export function createAuditActivities(deps: ActivityDeps) {
  const now = clock(deps);
  return {
    async recordAudit(input: AuditInput): Promise<{ seq: number }> {
      return { seq: (await appendAudit(deps.db, now(), input)).seq };
    },
  };
}
