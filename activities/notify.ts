import { log } from '@temporalio/activity';
import {
  createNotifications,
  type ApproverNotification,
  type NotificationInput,
} from '../notifications/outbox.js';
import type { ActivityDeps } from './deps.js';

export type { NotificationInput } from '../notifications/outbox.js';

/** The workflows' side of the notifications outbox (notifications/outbox.ts writes it). */
export function createNotifyActivities(deps: ActivityDeps) {
  const notifications = createNotifications({
    db: deps.db,
    publicUrl: deps.publicUrl,
    signing: { secret: deps.linkSecret, approvalTtlMs: deps.linkTtlMs },
    ...(deps.now ? { now: deps.now } : {}),
  });
  return {
    /** Queues the notification; a retried activity finds its key and queues nothing. */
    async notify(input: NotificationInput): Promise<void> {
      const { queued, links } = await notifications.notify(input);
      // Link names only: the links themselves may carry signed tokens.
      if (queued) log.info('notification queued', { to: input.recipient, subject: input.subject, links });
    },

    /** One notification to each person `who` names (users, groups, a device's owner). */
    async notifyPeople(input: Omit<NotificationInput, 'recipient'> & { who: string[] }): Promise<void> {
      await notifications.notifyPeople(input);
    },

    /** Asks approvers to decide, with approve/deny links signed for each of them. */
    async notifyApprovers(input: ApproverNotification): Promise<void> {
      await notifications.notifyApprovers(input);
    },
  };
}
