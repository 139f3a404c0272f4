import { useState } from 'react';
import { post, type ReviewItem } from '../api.ts';
import { useApi, useNames } from '../hooks.ts';
import { Link } from '../router.tsx';
import { listWords, when } from '../words.ts';
import { Problem } from '../ui.tsx';

function Review({
  item,
  onDone,
  nameOf,
}: {
  item: ReviewItem;
  onDone: () => void;
  nameOf: (id: string) => string;
}) {
  const [comment, setComment] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const decide = async (decision: 'keep' | 'revoke') => {
    setBusy(true);
    try {
      await post(`/api/access/reviews/${encodeURIComponent(item.campaignId)}/items/${item.id}/decision`, {
        decision,
        ...(comment.trim() ? { comment } : {}),
      });
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  const id = `review-comment-${item.id}`;
  const who = nameOf(item.user);
  return (
    <li className="card">
      <h3>
        Does {who} still need {item.securityGroup}?
      </h3>
      <dl className="facts">
        <dt>Review</dt>
        <dd>{item.campaignId}</dd>
        <dt>Granted by</dt>
        <dd>
          {item.grant.requestId ? (
            <Link href={`/requests/${item.grant.requestId}`}>{item.grant.requestId}</Link>
          ) : (
            'Before reqflow recorded grants'
          )}
          {item.grant.approvedBy.length > 0 &&
            `, approved by ${listWords(item.grant.approvedBy.map(nameOf))}`}
        </dd>
        <dt>Why</dt>
        <dd>{item.grant.justification ?? 'No reason given'}</dd>
        <dt>Ends</dt>
        <dd>{item.grant.until ? when(item.grant.until) : 'No end date'}</dd>
      </dl>
      <div className="field">
        <label htmlFor={id}>Comment (optional)</label>
        <textarea id={id} rows={2} value={comment} onChange={(e) => setComment(e.target.value)} />
      </div>
      <Problem text={error} />
      <div className="actions">
        <button type="button" className="primary" disabled={busy} onClick={() => void decide('keep')}>
          Keep
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => void decide('revoke')}>
          Revoke
        </button>
      </div>
    </li>
  );
}

/** Access reviews in the reviewer's inbox: keep or revoke each holder's access, with a comment. */
export function ReviewTasks() {
  const { data, error, reload } = useApi<{ items: ReviewItem[] }>('/api/access/reviews/tasks', {
    everyMs: 5000,
  });
  const nameOf = useNames(data?.items.flatMap((i) => [i.user, ...i.grant.approvedBy]) ?? []);
  if (!data?.items.length && !error) return null;
  return (
    <section aria-labelledby="access-reviews" className="panel">
      <h2 id="access-reviews">Access reviews</h2>
      <Problem text={error} />
      <ul className="cards wide">
        {data?.items.map((i) => (
          <Review key={i.id} item={i} onDone={reload} nameOf={nameOf} />
        ))}
      </ul>
    </section>
  );
}
