import { toMs } from '../domain/duration.js';
import { condition, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RequestSnapshot } from '../domain/request.js';

const { notifyPeople, recordAudit } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m' },
});

export interface SlaClockOptions {
  requestId: string;
  /** 'request' for the whole request, or the step's name. */
  scope: string;
  target: string;
  warnBefore: string;
  snapshot: () => RequestSnapshot;
  /** The clock stands still while this is true (the request waits on its requester). */
  paused: () => boolean;
  /** Records the warning or breach in steps[]. */
  record: (name: 'sla_warning' | 'sla_breach', detail: string) => Promise<void>;
}

/**
 * A service-level clock as durable timers, never a cron poll: it counts only the
 * time the request is not waiting on its requester, warns whoever it waits on
 * `warnBefore` the target, and on breach escalates to them and the operators.
 * Each event lands in steps[] and the audit log.
 */
export function startSlaClock(o: SlaClockOptions): { stop(): void } {
  let stopped = false;
  const target = toMs(o.target);
  const warnAt = Math.max(0, target - toMs(o.warnBefore));
  const what = o.scope === 'request' ? 'the request' : `step ${o.scope}`;

  const alert = async (kind: 'warning' | 'breach') => {
    const s = o.snapshot();
    const who = s.waitingOn?.who ?? [];
    const detail =
      kind === 'warning'
        ? `SLA warning: ${what} reaches its ${o.target} target in ${o.warnBefore}${s.waitingOn ? ` (waiting for ${s.waitingOn.what})` : ''}.`
        : `SLA breached: ${what} took longer than ${o.target}${s.waitingOn ? ` (waiting for ${s.waitingOn.what})` : ''}.`;
    await o.record(kind === 'warning' ? 'sla_warning' : 'sla_breach', detail);
    await recordAudit({
      key: `${o.requestId}:sla.${kind}:${o.scope}`,
      actor: 'reqflow',
      action: `sla.${kind}`,
      requestId: o.requestId,
      subject: o.scope,
      details: { target: o.target, waitingOn: s.waitingOn },
    });
    await notifyPeople({
      key: `${o.requestId}:sla-${kind}:${o.scope}`,
      requestId: o.requestId,
      // A breach escalates: the operators hear of it too.
      who: kind === 'breach' ? [...who, 'group:operators'] : who,
      subject: `${kind === 'warning' ? 'SLA warning' : 'SLA breached'}: ${s.id} (${s.catalogItemId})`,
      body: detail,
    });
  };

  const run = async () => {
    let used = 0;
    let warned = false;
    while (!stopped) {
      if (o.paused()) {
        await condition(() => stopped || !o.paused());
        continue;
      }
      const next = warned ? target : warnAt;
      const started = Date.now();
      const interrupted = await condition(() => stopped || o.paused(), Math.max(1, next - used));
      used += Date.now() - started;
      if (interrupted) continue;
      if (!warned) {
        warned = true;
        await alert('warning');
      } else {
        await alert('breach');
        return;
      }
    }
  };
  // A cancelled request cancels the clock's timers too: that is its end, not an error.
  void run().catch((err: unknown) => {
    if (!isCancellation(err)) throw err;
  });
  return {
    stop() {
      stopped = true;
    },
  };
}
