import { useState, type FormEvent } from 'react';
import { post, type RequestView, type SessionUser } from '../api.ts';
import { useApi, useItemNames, useNames } from '../hooks.ts';
import { Link } from '../router.tsx';
import { isFinal, statusLine, stepWords, when, whoWords } from '../words.ts';
import { Problem } from '../ui.tsx';
import { AnswerFeedback, Survey } from './AfterFulfillment.tsx';

interface Comment {
  id: number;
  author: string;
  body: string;
  createdAt: string;
}

const STEP_STATE_WORDS: Record<string, string> = {
  running: 'in progress',
  waiting: 'waiting',
  completed: 'done',
  failed: 'failed',
  skipped: 'skipped',
  compensated: 'undone',
};

/** The approver of decisions reqflow makes itself (a pre-authorized Standard Change). */
const SYSTEM = 'reqflow';

/** One request as it stands, live: polled every second until it reaches a final status. */
export function RequestPage({ requestId, user }: { requestId: string; user: SessionUser }) {
  const path = `/api/requests/${encodeURIComponent(requestId)}`;
  const {
    data: r,
    error,
    reload,
  } = useApi<RequestView>(path, {
    everyMs: 1000,
    keepPolling: (d) => !isFinal(d.status),
  });
  const comments = useApi<{ items: Comment[] }>(`${path}/comments`, { everyMs: 2000 });
  const itemName = useItemNames();
  const people = [
    ...(r ? [r.requester, r.beneficiary, ...r.approvals.map((a) => a.approver)] : []),
    ...(r?.waitingOn?.who.filter((w) => !w.includes(':')) ?? []),
    ...(comments.data?.items.map((c) => c.author) ?? []),
  ];
  const nameOf = useNames(people);
  const [comment, setComment] = useState('');
  const [actionError, setActionError] = useState<string>();

  if (error && !r) return <p role="alert">{error}</p>;
  if (!r) return <p aria-busy="true">Loading…</p>;

  const act = (p: Promise<unknown>) =>
    p.then(
      () => {
        setActionError(undefined);
        reload();
        comments.reload();
      },
      (err: unknown) => setActionError(err instanceof Error ? err.message : String(err)),
    );
  const sendComment = (e: FormEvent) => {
    e.preventDefault();
    if (!comment.trim()) return;
    void act(post(`${path}/comments`, { body: comment })).then(() => setComment(''));
  };
  const mine = r.requester === user.id;
  const mayCancel = !isFinal(r.status) && (r.requester === user.id || user.isOperator);
  const status = statusLine(r.status, r.waitingOn?.who, nameOf);

  return (
    <>
      <p className="crumbs">
        <Link href="/requests">My requests</Link> › {r.id}
      </p>
      <h1 tabIndex={-1}>
        {itemName(r.catalogItemId)} <span className="muted">{r.id}</span>
      </h1>
      <p className={`status status-${r.status}`} role="status" aria-live="polite">
        <span className="sr-only">Status: </span>
        {status}
      </p>
      {r.waitingOn && !isFinal(r.status) && (
        <p>
          Waiting on {r.waitingOn.who.map((w) => whoWords(w, nameOf)).join(', ')} (
          {stepWords(r.waitingOn.what)}) since {when(r.waitingOn.since)}.
        </p>
      )}
      {r.outcome && (
        <div className="panel outcome">
          <p>{r.outcome.message}</p>
          {r.outcome.launchUrl && (
            <p>
              <a href={r.outcome.launchUrl}>Open the software</a>
            </p>
          )}
        </div>
      )}
      {mine && r.type === 'information' && r.status === 'fulfilled' && (
        <AnswerFeedback request={r} onDone={reload} />
      )}
      {mine && r.status === 'fulfilled' && <Survey request={r} />}
      <dl className="facts">
        <dt>Requested by</dt>
        <dd>{nameOf(r.requester)}</dd>
        {r.beneficiary !== r.requester && (
          <>
            <dt>For</dt>
            <dd>{nameOf(r.beneficiary)}</dd>
          </>
        )}
        {r.deviceId && (
          <>
            <dt>Device</dt>
            <dd>{r.deviceId}</dd>
          </>
        )}
        <dt>Submitted</dt>
        <dd>{when(r.createdAt)}</dd>
        {r.justification && (
          <>
            <dt>Why</dt>
            <dd>{r.justification}</dd>
          </>
        )}
      </dl>
      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        <ol className="timeline" aria-labelledby="timeline">
          {r.steps.map((s, i) => (
            <li key={`${s.name}-${i}`} className={`step step-${s.state}`}>
              <span className="step-name">{stepWords(s.name)}</span>{' '}
              <span className="step-state">{STEP_STATE_WORDS[s.state] ?? s.state}</span>
              {s.attempt && s.attempt > 1 ? <span> (attempt {s.attempt})</span> : null}
              <span className="muted"> {when(s.startedAt)}</span>
              {s.detail && <p className="detail">{s.detail}</p>}
            </li>
          ))}
        </ol>
      </section>
      {r.approvals.length > 0 && (
        <section aria-labelledby="approvals">
          <h2 id="approvals">Approvals</h2>
          <ul>
            {r.approvals.map((a, i) => (
              <li key={i}>
                {a.approver === SYSTEM ? 'Pre-authorized' : nameOf(a.approver)}{' '}
                {a.decision === 'approve' ? 'approved' : 'denied'} on {when(a.decidedAt)}
                {a.comment && (
                  <>
                    : <q>{a.comment}</q>
                  </>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="conversation">
        <h2 id="conversation">Conversation</h2>
        {comments.data?.items.length === 0 && <p>No comments yet.</p>}
        <ul className="comments">
          {comments.data?.items.map((c) => (
            <li key={c.id}>
              <strong>{nameOf(c.author)}</strong> <span className="muted">{when(c.createdAt)}</span>
              <p>{c.body}</p>
            </li>
          ))}
        </ul>
        <form onSubmit={sendComment}>
          <div className="field">
            <label htmlFor="comment">Add a comment</label>
            <textarea id="comment" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
          </div>
          <button type="submit">Send comment</button>
        </form>
      </section>
      <Problem text={actionError} />
      <div className="actions">
        {mayCancel && (
          <button type="button" onClick={() => void act(post(`${path}/cancel`, {}))}>
            Cancel request
          </button>
        )}
        {user.isOperator && (
          <a href={r.links.temporalUi} target="_blank" rel="noreferrer">
            Open in Temporal UI
          </a>
        )}
      </div>
    </>
  );
}
