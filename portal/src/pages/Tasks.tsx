import { useState } from 'react';
import { post, type SessionUser, type Task } from '../api.ts';
import { useApi, useNames } from '../hooks.ts';
import { Link } from '../router.tsx';
import { when } from '../words.ts';
import { Problem } from '../ui.tsx';

function TaskCard({ task, user, onDone }: { task: Task; user: SessionUser; onDone: () => void }) {
  const [outcome, setOutcome] = useState(task.outcomes?.[0] ?? '');
  const [resolution, setResolution] = useState('');
  const [error, setError] = useState<string>();
  const [note, setNote] = useState('');
  const [assignee, setAssignee] = useState('');
  const act = (p: Promise<unknown>) =>
    p.then(onDone, (err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  const mine = task.assignee === user.id;
  const base = `/api/tasks/${task.id}`;
  const names = useNames([...(task.assignee ? [task.assignee] : []), ...task.comments.map((c) => c.author)]);
  return (
    <li className="card">
      <h3>{task.title}</h3>
      <p>{task.description}</p>
      <dl className="facts">
        <dt>Queue</dt>
        <dd>{task.groupId}</dd>
        <dt>Assignee</dt>
        <dd>{task.assignee ? names(task.assignee) : 'Nobody yet'}</dd>
        <dt>Created</dt>
        <dd>{when(task.createdAt)}</dd>
        {task.requestId && (
          <>
            <dt>Request</dt>
            <dd>
              <Link href={`/requests/${task.requestId}`}>{task.requestId}</Link>
            </dd>
          </>
        )}
      </dl>
      <Problem text={error} />
      {!mine && (
        <button type="button" onClick={() => void act(post(`${base}/claim`, {}))}>
          Claim {task.title}
        </button>
      )}
      {mine && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act(post(`${base}/complete`, { outcome, ...(resolution.trim() ? { resolution } : {}) }));
          }}
        >
          <div className="field">
            <label htmlFor={`outcome-${task.id}`}>Outcome</label>
            {task.outcomes ? (
              <select id={`outcome-${task.id}`} value={outcome} onChange={(e) => setOutcome(e.target.value)}>
                {task.outcomes.map((o) => (
                  <option key={o}>{o}</option>
                ))}
              </select>
            ) : (
              <input
                id={`outcome-${task.id}`}
                value={outcome}
                required
                onChange={(e) => setOutcome(e.target.value)}
              />
            )}
          </div>
          <div className="field">
            <label htmlFor={`resolution-${task.id}`}>Resolution (e.g. tracking number, asset tag)</label>
            <input
              id={`resolution-${task.id}`}
              value={resolution}
              onChange={(e) => setResolution(e.target.value)}
            />
          </div>
          <button type="submit" className="primary">
            Complete task
          </button>
        </form>
      )}
      {task.comments.length > 0 && (
        <ul className="comments" aria-label={`Comments on ${task.title}`}>
          {task.comments.map((c, i) => (
            <li key={i}>
              <strong>{names(c.author)}</strong> <span className="muted">{when(c.createdAt)}</span>
              <p>{c.body}</p>
            </li>
          ))}
        </ul>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (note.trim()) void act(post(`${base}/comments`, { body: note }).then(() => setNote('')));
        }}
      >
        <div className="field">
          <label htmlFor={`note-${task.id}`}>Comment</label>
          <input id={`note-${task.id}`} value={note} onChange={(e) => setNote(e.target.value)} />
        </div>
        <button type="submit">Add comment</button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (assignee.trim()) void act(post(`${base}/reassign`, { assigneeId: assignee.trim() }));
        }}
      >
        <div className="field">
          <label htmlFor={`assignee-${task.id}`}>Reassign to (user id in {task.groupId})</label>
          <input id={`assignee-${task.id}`} value={assignee} onChange={(e) => setAssignee(e.target.value)} />
        </div>
        <button type="submit">Reassign</button>
      </form>
    </li>
  );
}

/** The open tasks of my fulfillment groups, newest first. */
export function Tasks({ user }: { user: SessionUser }) {
  const { data, error, reload } = useApi<{ items: Task[] }>('/api/tasks', { everyMs: 2000 });
  const groups = [...new Set(data?.items.map((t) => t.groupId) ?? [])].sort();
  return (
    <>
      <h1 tabIndex={-1}>Task queues</h1>
      <Problem text={error} />
      {data?.items.length === 0 && <p>No open tasks in your queues.</p>}
      {groups.map((g) => (
        <section key={g} aria-labelledby={`queue-${g}`}>
          <h2 id={`queue-${g}`} className="queue">
            Queue: {g}
          </h2>
          <ul className="cards wide">
            {data?.items
              .filter((t) => t.groupId === g)
              .map((t) => (
                <TaskCard key={t.id} task={t} user={user} onDone={reload} />
              ))}
          </ul>
        </section>
      ))}
    </>
  );
}
