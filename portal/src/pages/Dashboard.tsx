import { useId, useState } from 'react';
import { post, type RequestView } from '../api.ts';
import { useApi } from '../hooks.ts';
import { Link } from '../router.tsx';
import { msWords, TYPE_WORDS, when } from '../words.ts';
import { Problem } from '../ui.tsx';

interface Stats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  max: number;
}
interface MetricsGroup {
  key: string;
  submitted: number;
  fulfilled: number;
  fulfillment: Stats | null;
  steps: Record<string, Stats>;
  automationRate: number | null;
  sla: { met: number; breached: number };
}
interface Report {
  id: string;
  period: string;
  fulfilled: number;
  goalsMet: number;
  goalsMissed: number;
  generatedAt: string;
}

/** Horizontal bars (median and 90th percentile), inline SVG: no chart library for two numbers a row. */
function BarChart({ rows, title }: { rows: { label: string; p50: number; p90: number }[]; title: string }) {
  const titleId = useId();
  const max = Math.max(1, ...rows.map((r) => r.p90));
  const rowH = 28;
  const labelW = 180;
  const width = 560;
  return (
    <figure>
      <svg
        role="img"
        aria-labelledby={titleId}
        viewBox={`0 0 ${width} ${rows.length * rowH + 10}`}
        className="chart"
      >
        <title id={titleId}>{title}</title>
        {rows.map((r, i) => {
          const scale = (v: number) => ((width - labelW - 80) * v) / max;
          return (
            <g key={r.label} transform={`translate(0 ${i * rowH + 5})`}>
              <text x={0} y={17} className="chart-label">
                {r.label}
              </text>
              <rect x={labelW} y={4} width={scale(r.p90)} height={16} className="bar-p90" />
              <rect x={labelW} y={4} width={scale(r.p50)} height={16} className="bar-p50" />
              <text x={labelW + scale(r.p90) + 6} y={17} className="chart-value">
                {msWords(r.p50)} / {msWords(r.p90)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>Median (dark) and 90th percentile (light) time to fulfil, last 30 days.</figcaption>
    </figure>
  );
}

function FailedDeployment({ r, onDone }: { r: RequestView; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const id = `reason-${r.id}`;
  const waiting = r.steps.findLast((s) => s.name === 'operator_decision');
  const decide = async (action: 'retry' | 'give-up') => {
    setBusy(true);
    try {
      await post(`/api/requests/${r.id}/${action}`, { reason });
      onDone();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className="card">
      <h3>
        <Link href={`/requests/${r.id}`}>{r.id}</Link> · {r.catalogItemId}
      </h3>
      <p>
        {waiting?.detail} {r.deviceId && <>Device {r.deviceId}.</>}
      </p>
      <p>
        <a href={r.links.temporalUi} target="_blank" rel="noreferrer">
          Open {r.id} in Temporal UI
        </a>
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void decide('retry');
        }}
      >
        <div className="field">
          <label htmlFor={id}>Reason: what was fixed, or why give up (for the audit trail)</label>
          <input id={id} value={reason} required onChange={(e) => setReason(e.target.value)} />
        </div>
        <Problem text={error} />
        <button type="submit" className="primary" disabled={busy || !reason.trim()}>
          Retry
        </button>{' '}
        <button type="button" disabled={busy || !reason.trim()} onClick={() => void decide('give-up')}>
          Give up
        </button>
      </form>
    </li>
  );
}

export function Dashboard() {
  const metrics = useApi<{ groups: MetricsGroup[] }>('/api/metrics/fulfillment?groupBy=type');
  const reports = useApi<{ items: Report[] }>('/api/reports');
  const failed = useApi<{ items: RequestView[] }>('/api/requests?status=awaiting_decision&limit=50', {
    everyMs: 2000,
  });
  const groups = metrics.data?.groups ?? [];
  const steps = new Map<string, Stats>();
  for (const g of groups)
    for (const [name, s] of Object.entries(g.steps)) if (!steps.has(name)) steps.set(name, s);
  // Failed deployments wait for an operator to retry or give up.
  const failedDeployments = failed.data?.items ?? [];
  return (
    <>
      <h1 tabIndex={-1}>Operations dashboard</h1>
      <section aria-labelledby="failed">
        <h2 id="failed">Failed deployments</h2>
        <Problem text={failed.error} />
        {failed.data && failedDeployments.length === 0 && <p>No failed deployments.</p>}
        <ul className="cards wide">
          {failedDeployments.map((r) => (
            <FailedDeployment key={r.id} r={r} onDone={failed.reload} />
          ))}
        </ul>
      </section>
      <section aria-labelledby="times">
        <h2 id="times">Fulfillment time per type</h2>
        <Problem text={metrics.error} />
        {groups.some((g) => g.fulfillment) ? (
          <BarChart
            title="Fulfillment time per request type"
            rows={groups
              .filter((g) => g.fulfillment)
              .map((g) => ({
                label: TYPE_WORDS[g.key] ?? g.key,
                p50: g.fulfillment!.p50,
                p90: g.fulfillment!.p90,
              }))}
          />
        ) : (
          metrics.data && <p>No request was fulfilled in the last 30 days.</p>
        )}
        {groups.length > 0 && (
          <table>
            <caption>Per type, last 30 days</caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col">Submitted</th>
                <th scope="col">Fulfilled</th>
                <th scope="col">Median</th>
                <th scope="col">Automated</th>
                <th scope="col">SLA met / breached</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={g.key}>
                  <th scope="row">{TYPE_WORDS[g.key] ?? g.key}</th>
                  <td>{g.submitted}</td>
                  <td>{g.fulfilled}</td>
                  <td>{g.fulfillment ? msWords(g.fulfillment.p50) : '–'}</td>
                  <td>{g.automationRate === null ? '–' : `${Math.round(g.automationRate * 100)} %`}</td>
                  <td>
                    {g.sla.met} / {g.sla.breached}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      {steps.size > 0 && (
        <section aria-labelledby="steps">
          <h2 id="steps">Time per step</h2>
          <BarChart
            title="Time per step"
            rows={[...steps].map(([name, s]) => ({
              label: name.replaceAll('_', ' '),
              p50: s.p50,
              p90: s.p90,
            }))}
          />
        </section>
      )}
      <section aria-labelledby="reports">
        <h2 id="reports">Monthly reports</h2>
        <Problem text={reports.error} />
        {reports.data?.items.length === 0 && (
          <p>No monthly report yet; the first runs at the start of next month.</p>
        )}
        <ul>
          {reports.data?.items.map((r) => (
            <li key={r.id}>
              {r.period}: {r.fulfilled} fulfilled, {r.goalsMet} goals met, {r.goalsMissed} missed (made{' '}
              {when(r.generatedAt)})
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}
