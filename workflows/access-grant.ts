import { toMs } from '../domain/duration.js';
import { condition, defineSignal, getExternalWorkflowHandle, setHandler } from '@temporalio/workflow';
import { grantTimerWorkflowId, type GrantTimerInput } from '../domain/access.js';
import { acts } from './activity-proxies.js';

/** Something ended the grant early (an operator, a review, a deactivation, a renewal): the timer stops. */
export const grantEndedSignal = defineSignal<[{ reason: string }]>('grantEnded');

/**
 * Tells a grant's expiry timer that the grant ended. The grant's record is the truth (an expiry
 * that finds it ended revokes nothing); this only spares the timer its wait. A timer that has
 * already finished, or never existed, is no error.
 */
export async function endGrantTimer(grantId: string, reason: string): Promise<void> {
  try {
    await getExternalWorkflowHandle(grantTimerWorkflowId(grantId)).signal(grantEndedSignal, { reason });
  } catch {
    // The timer is gone: nothing waits on the grant.
  }
}

/**
 * ITIL access management, the end of a time-bound grant: a durable timer reminds the beneficiary
 * `remindBefore` ahead with a renewal link, then revokes the membership at `until` (audited,
 * pointing at the grant's entry) and tells them. An early end (grantEndedSignal, or a record that
 * says the grant already ended) stops it without a second revocation.
 */
export async function accessGrantTimer(input: GrantTimerInput): Promise<'expired' | 'ended'> {
  const { grantId } = input;
  let told = false;
  setHandler(grantEndedSignal, () => {
    told = true;
  });
  /**
   * Waits until `at`; true when the grant ended first. A signal wakes it to re-read the grant's
   * record, which is what counts: a signal for a change that did not commit leaves it waiting.
   */
  const endedBefore = async (at: number): Promise<boolean> => {
    for (;;) {
      const left = at - Date.now();
      if (left <= 0 || !(await condition(() => told, left))) return false;
      told = false;
      if (!(await acts.accessGrantActive({ grantId }))) return true;
    }
  };
  const until = Date.parse(input.until);
  const untilText = new Date(until).toUTCString();
  const notify = (key: string, subject: string, body: string, links: Record<string, string> = {}) =>
    acts.notify({
      key: `${grantId}:${key}`,
      requestId: input.requestId,
      recipient: input.beneficiary,
      subject,
      body,
      links: { request: `/api/requests/${input.requestId}`, ...links },
    });

  const remindAt = until - toMs(input.remindBefore);
  if (remindAt > Date.now()) {
    if (await endedBefore(remindAt)) return 'ended';
    if (!(await acts.accessGrantActive({ grantId }))) return 'ended';
    await notify(
      'expiry-reminder',
      `Your access to ${input.itemName} ends ${untilText}`,
      `Your membership of ${input.securityGroup} ends ${untilText}. Renew it if you still need it: the renewal is a new request with the same details, approved as the catalog says.`,
      { renew: `/access?renew=${encodeURIComponent(grantId)}` },
    );
  }
  if (await endedBefore(until)) return 'ended';
  const { revoked } = await acts.expireAccessGrant({ grantId });
  if (!revoked) return 'ended';
  await notify(
    'expired',
    `Your access to ${input.itemName} has ended`,
    `Your membership of ${input.securityGroup} ended ${untilText}, as requested in ${input.requestId}. Request it again from the catalog if you need it.`,
  );
  return 'expired';
}
