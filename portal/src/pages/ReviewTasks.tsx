import type { ReviewItem } from '../api.ts';
import { useApi, useNames } from '../hooks.ts';
import { Link } from '../router.tsx';
import { listWords, when } from '../words.ts';
import { Problem } from '../ui.tsx';
import { DecisionForm } from '../decision.tsx';

function Review({
  item,
  onDone,
  nameOf,
}: {
  item: ReviewItem;
  onDone: () => void;
  nameOf: (id: string) => string;
}) {
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
      <DecisionForm
        id={id}
        url={`/api/access/reviews/${encodeURIComponent(item.campaignId)}/items/${item.id}/decision`}
        choices={[
          { decision: 'keep', label: 'Keep', className: 'primary' },
          { decision: 'revoke', label: 'Revoke', className: 'danger' },
        ]}
        onDone={onDone}
      />
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
