import { useState } from 'react';
import { post, type Grant, type RequestView } from '../api.ts';
import { useApi, useNames } from '../hooks.ts';
import { Link, navigate } from '../router.tsx';
import { listWords, when } from '../words.ts';
import { Problem } from '../ui.tsx';

/** Renewing is a new request with the same item, justification and length, approved as the catalog says. */
function RenewButton({ grant, label }: { grant: Grant; label: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const renew = async () => {
    setBusy(true);
    try {
      const created = await post<RequestView>(
        `/api/access/grants/${encodeURIComponent(grant.id)}/renewal`,
        {},
      );
      navigate(`/requests/${created.id}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" disabled={busy} aria-label={label} onClick={() => void renew()}>
        Renew
      </button>
      <Problem text={error} />
    </>
  );
}

/** "My access": the security groups I hold, until when, approved by whom; time-bound ones can be renewed. */
export function MyAccess({ renew }: { renew: string | undefined }) {
  const { data, error } = useApi<{ items: Grant[] }>('/api/access/grants?state=active');
  const nameOf = useNames(data?.items.flatMap((g) => g.approvedBy) ?? []);
  const target = data?.items.find((g) => g.id === renew);
  return (
    <>
      <h1 tabIndex={-1}>My access</h1>
      <Problem text={error} />
      {renew && data && !target && (
        <p role="note">That access has already ended; request it again from the catalog if you need it.</p>
      )}
      {target?.links.renew && (
        <section aria-labelledby="renew" className="panel">
          <h2 id="renew">Renew {target.securityGroup}</h2>
          <p>
            Your access ends {when(target.until!)}. Renewing asks again, with the same reason; once approved
            the access continues.
          </p>
          <RenewButton grant={target} label={`Renew ${target.securityGroup}`} />
        </section>
      )}
      {data?.items.length === 0 && <p>You hold no access granted through reqflow.</p>}
      {data && data.items.length > 0 && (
        <table>
          <caption className="sr-only">Access you hold</caption>
          <thead>
            <tr>
              <th scope="col">Access</th>
              <th scope="col">Ends</th>
              <th scope="col">Approved by</th>
              <th scope="col">Request</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((g) => (
              <tr key={g.id}>
                <td>{g.securityGroup}</td>
                <td>{g.until ? when(g.until) : 'No end date'}</td>
                <td>{g.approvedBy.length ? listWords(g.approvedBy.map(nameOf)) : '—'}</td>
                <td>{g.requestId ? <Link href={`/requests/${g.requestId}`}>{g.requestId}</Link> : '—'}</td>
                <td>{g.links.renew && <RenewButton grant={g} label={`Renew ${g.securityGroup}`} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
