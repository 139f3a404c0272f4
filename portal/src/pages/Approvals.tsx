import { useState, type FormEvent } from 'react';
import { api, ApiProblem, get, type PendingApproval, type SessionUser } from '../api.ts';
import { useApi, useNames } from '../hooks.ts';
import { Link } from '../router.tsx';
import { when } from '../words.ts';
import { Problem } from '../ui.tsx';
import { ReviewTasks } from './ReviewTasks.tsx';
import { DecisionForm } from '../decision.tsx';

function Decision({
  item,
  onDone,
  nameOf,
}: {
  item: PendingApproval;
  onDone: () => void;
  nameOf: (id: string) => string;
}) {
  const id = `comment-${item.requestId}-${item.level}`;
  return (
    <li className="card">
      <h2>
        <Link href={`/requests/${item.requestId}`}>{item.itemName}</Link>
      </h2>
      <dl className="facts">
        <dt>Who</dt>
        <dd>
          {nameOf(item.beneficiary)}
          {item.requester !== item.beneficiary && ` (requested by ${nameOf(item.requester)})`}
        </dd>
        <dt>Why</dt>
        <dd>{item.justification ?? 'No reason given'}</dd>
        <dt>Policy level</dt>
        <dd>
          Level {item.level}
          {item.approver !== '' && ` · as ${nameOf(item.approver)}`}
        </dd>
        <dt>Waiting since</dt>
        <dd>{when(item.waitingSince)}</dd>
      </dl>
      <DecisionForm
        id={id}
        url={`/api/requests/${item.requestId}/approvals`}
        choices={[
          { decision: 'approve', label: 'Approve', className: 'primary' },
          { decision: 'deny', label: 'Deny', className: 'danger' },
        ]}
        onDone={onDone}
      />
    </li>
  );
}

interface Delegation {
  delegateId: string;
  until: string | null;
}

function DelegationSettings() {
  const [current, setCurrent] = useState<Delegation | null>();
  const [delegate, setDelegate] = useState('');
  const [until, setUntil] = useState('');
  const [message, setMessage] = useState<string>();
  const load = () =>
    get<Delegation>('/api/delegation').then(setCurrent, (err: unknown) => {
      if (err instanceof ApiProblem && err.status === 404) setCurrent(null);
      else setMessage(String(err));
    });
  if (current === undefined && !message) void load();
  const save = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api('PUT', '/api/delegation', {
        delegateId: delegate.trim(),
        ...(until ? { until: new Date(until).toISOString() } : {}),
      });
      setMessage('Delegation saved.');
      await load();
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    }
  };
  const remove = async () => {
    await api('DELETE', '/api/delegation');
    setMessage('Delegation removed.');
    await load();
  };
  return (
    <section aria-labelledby="delegation" className="panel">
      <h2 id="delegation">Delegation</h2>
      {current ? (
        <p>
          {current.delegateId} decides your approvals{current.until ? ` until ${when(current.until)}` : ''}.{' '}
          <button type="button" onClick={() => void remove()}>
            Remove delegation
          </button>
        </p>
      ) : (
        <p>Nobody decides your approvals for you.</p>
      )}
      <form onSubmit={(e) => void save(e)}>
        <div className="field">
          <label htmlFor="delegate">Delegate (user id)</label>
          <input id="delegate" value={delegate} required onChange={(e) => setDelegate(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="until">Until (optional)</label>
          <input id="until" type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
        </div>
        <button type="submit">Save delegation</button>
      </form>
      {message && <p role="status">{message}</p>}
    </section>
  );
}

export function Approvals({ user }: { user: SessionUser }) {
  const { data, error, reload } = useApi<{ items: PendingApproval[] }>('/api/approvals', { everyMs: 2000 });
  const nameOf = useNames(data?.items.flatMap((i) => [i.requester, i.beneficiary, i.approver]) ?? []);
  return (
    <>
      <h1 tabIndex={-1}>Approvals</h1>
      <Problem text={error} />
      {data?.items.length === 0 && <p>Nothing waits for your decision, {user.name.split(' ')[0]}.</p>}
      <ul className="cards wide">
        {data?.items.map((i) => (
          <Decision key={`${i.requestId}-${i.level}`} item={i} onDone={reload} nameOf={nameOf} />
        ))}
      </ul>
      <ReviewTasks />
      <DelegationSettings />
    </>
  );
}
