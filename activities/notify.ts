import { log } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import * as t from '../db/schema.js';
import { SURVEY_LINK_REF } from '../domain/request.js';
import { surveyLink } from '../runtime/survey-links.js';
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
  /**
   * The beneficiary of a request made on their behalf: they get their own copy, saying
   * who asked, with only the links that are not signed for the requester.
   */
  copyTo?: string;
}

/** Links anyone allowed to read the request may follow; signed ones (a survey) stay the requester's. */
const SHAREABLE_LINKS = new Set(['request', 'launch', 'bookmark']);

/** Who `who` names: user ids as they are, `group:<id>` as its members, `device:<id>` as its owner. */
function people(db: ActivityDeps['db'], who: string[]): string[] {
  const out = new Set<string>();
  for (const w of who) {
    if (w.startsWith('group:')) {
      for (const m of db
        .select()
        .from(t.groupMembers)
        .where(eq(t.groupMembers.groupId, w.slice(6)))
        .all())
        out.add(m.userId);
    } else if (w.startsWith('device:')) {
      const d = db
        .select()
        .from(t.devices)
        .where(eq(t.devices.id, w.slice(7)))
        .get();
      if (d) out.add(d.ownerId);
    } else {
      out.add(w);
    }
  }
  return [...out];
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
        Object.entries(input.links ?? {}).map(([k, v]) => {
          // Signed here, not in the workflow: the token lives in the outbox row, never in a history.
          const url =
            v === SURVEY_LINK_REF && input.requestId
              ? surveyLink(deps.linkSecret, input.requestId, input.recipient)
              : v;
          return [k, url.startsWith('/') ? `${deps.publicUrl}${url}` : url];
        }),
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
        // Link names only: the links themselves may carry signed tokens.
        log.info('notification queued', {
          to: input.recipient,
          subject: input.subject,
          links: Object.keys(links),
        });
      if (input.copyTo && input.copyTo !== input.recipient) {
        const shared = Object.fromEntries(Object.entries(links).filter(([k]) => SHAREABLE_LINKS.has(k)));
        db.insert(t.notifications)
          .values({
            key: `${input.key}:for:${input.copyTo}`,
            requestId: input.requestId,
            recipientId: input.copyTo,
            subject: input.subject,
            body: `${input.recipient} requested this on your behalf${input.requestId ? ` (${input.requestId})` : ''}.\n\n${input.body}`,
            links: shared,
            createdAt: now(),
          })
          .onConflictDoNothing({ target: t.notifications.key })
          .run();
      }
    },

    /** One notification to each person `who` names (users, groups, a device's owner). */
    async notifyPeople(input: Omit<NotificationInput, 'recipient'> & { who: string[] }): Promise<void> {
      const { who, ...rest } = input;
      for (const recipient of people(db, who)) {
        db.insert(t.notifications)
          .values({
            key: `${input.key}:${recipient}`,
            requestId: rest.requestId,
            recipientId: recipient,
            subject: rest.subject,
            body: rest.body,
            links: rest.links ?? {},
            createdAt: now(),
          })
          .onConflictDoNothing({ target: t.notifications.key })
          .run();
      }
    },
  };
}
