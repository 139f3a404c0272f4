import type { RequestView } from '../api.ts';
import { useApi, useItemNames, useNames } from '../hooks.ts';
import { Link } from '../router.tsx';
import { isFinal, statusLine, when } from '../words.ts';
import { Problem } from '../ui.tsx';

/** My requests (operators: everyone's), refreshed every two seconds while any is open. */
export function MyRequests() {
  const { data, error } = useApi<{ items: RequestView[] }>('/api/requests?limit=100', {
    everyMs: 2000,
    keepPolling: (d) => d.items.some((r) => !isFinal(r.status)),
  });
  const nameOf = useNames(
    data?.items.flatMap((r) => r.waitingOn?.who.filter((w) => !w.includes(':')) ?? []) ?? [],
  );
  const itemName = useItemNames();
  return (
    <>
      <h1 tabIndex={-1}>My requests</h1>
      <Problem text={error} />
      {!data && !error && <p aria-busy="true">Loading…</p>}
      {data?.items.length === 0 && (
        <p>
          You have no requests yet. <Link href="/">Browse the catalog</Link>
        </p>
      )}
      {data && data.items.length > 0 && (
        <table>
          <caption className="sr-only">Requests, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Item</th>
              <th scope="col">Status</th>
              <th scope="col">Submitted</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link href={`/requests/${r.id}`}>{r.id}</Link>
                </td>
                <td>{itemName(r.catalogItemId)}</td>
                <td>{statusLine(r.status, r.waitingOn?.who, nameOf)}</td>
                <td>{when(r.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
