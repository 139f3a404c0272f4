import { asc, eq } from 'drizzle-orm';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import { transaction } from '../db/transaction.js';
import type { Notifications } from '../notifications/outbox.js';
import type { RequestRow } from './index.js';

/*
 * The conversation on a request, part of the requests aggregate: this module alone writes
 * `request_comments`. Who may read or write a request's comments is the caller's check
 * (whoever may see the request).
 */

export type RequestCommentRow = typeof t.requestComments.$inferSelect;

/** Oldest first. */
export async function listRequestComments(
  db: DB,
  requestId: string,
  page: { limit: number; offset: number },
): Promise<RequestCommentRow[]> {
  return db
    .select()
    .from(t.requestComments)
    .where(eq(t.requestComments.requestId, requestId))
    .orderBy(asc(t.requestComments.id))
    .limit(page.limit)
    .offset(page.offset);
}

export interface NewRequestComment {
  request: Pick<RequestRow, 'id' | 'requesterId' | 'beneficiaryId'>;
  /** The catalog item's name, which the message names. */
  itemName: string;
  author: { id: string; name: string };
  body: string;
}

/**
 * Adds a comment and queues a message to the requester and the beneficiary (not to its
 * author). The comment and its messages commit together: no comment goes unannounced.
 */
export async function commentOnRequest(
  deps: { db: DB; notifications: Pick<Notifications, 'notifyIn'> },
  input: NewRequestComment,
): Promise<RequestCommentRow> {
  const { request: req, author } = input;
  const recipients = [...new Set([req.requesterId, req.beneficiaryId])].filter((id) => id !== author.id);
  return transaction(deps.db, async (tx) => {
    const [row] = await tx
      .insert(t.requestComments)
      .values({ requestId: req.id, authorId: author.id, body: input.body })
      .returning();
    if (!row) throw new Error(`the comment on ${req.id} was not stored`);
    for (const recipient of recipients) {
      await deps.notifications.notifyIn(tx, {
        key: `${req.id}:comment:${row.id}:${recipient}`,
        requestId: req.id,
        recipient,
        subject: `New comment on ${req.id} (${input.itemName})`,
        body: `${author.name} wrote:\n\n${row.body}`,
        links: { request: `/api/requests/${req.id}` },
      });
    }
    return row;
  });
}
