import { log } from '@temporalio/activity';
import * as t from '../db/schema.js';
import { clock, type ActivityDeps } from './deps.js';

export interface NotificationInput {
  /** Idempotency key, e.g. `${requestId}:fulfilled`. */
  key: string;
  requestId?: string;
  recipient: string;
  subject: string;
  body: string;
  /** Paths starting with `/` are made absolute with the public URL. */
  links?: Record<string, string>;
}

export function createNotifyActivities(deps: ActivityDeps) {
  const { db } = deps;
  const now = clock(deps);
  return {
    /**
     * Writes the notification to the outbox; a transport delivers it from there.
     * The unique key makes a retried activity a no-op instead of a second message.
     */
    async notify(input: NotificationInput): Promise<void> {
      const links = Object.fromEntries(
        Object.entries(input.links ?? {}).map(([k, v]) => [
          k,
          v.startsWith('/') ? `${deps.publicUrl}${v}` : v,
        ]),
      );
      const res = db
        .insert(t.notifications)
        .values({
          key: input.key,
          requestId: input.requestId,
          recipientId: input.recipient,
          subject: input.subject,
          body: input.body,
          links,
          createdAt: now(),
        })
        .onConflictDoNothing({ target: t.notifications.key })
        .run();
      if (res.changes > 0)
        log.info('notification queued', { to: input.recipient, subject: input.subject, links });
    },
  };
}
