import { useMemo, useState, type FormEvent } from 'react';
import {
  ApiProblem,
  post,
  type ApprovalLevel,
  type CatalogItem,
  type FormField,
  type RequestView,
  type SessionUser,
} from '../api.ts';
import { useApi } from '../hooks.ts';
import { AccessUntilField } from './AccessUntilField.tsx';
import { Link, navigate } from '../router.tsx';
import { durationWords } from '../words.ts';
import { Problem } from '../ui.tsx';

/** One approval level as the requester reads it. */
function approverWords(level: ApprovalLevel): string {
  if (level.kind === 'manager') return 'your manager';
  if (level.kind === 'owner') return "the service's owner";
  const who =
    level.quorum === 'all'
      ? 'everyone in'
      : level.quorum === 'any' || level.quorum === 1
        ? 'one person in'
        : `${level.quorum} people in`;
  return `${who} ${level.groupId}`;
}

/** What happens after submitting, in the desk's words, from what the catalog says of the item. */
function whatHappensNext(item: CatalogItem): string[] {
  const steps: string[] = [];
  const levels = item.approvalPolicy ?? [];
  const approval =
    levels.length > 0
      ? `Approved first by ${levels.map(approverWords).join(', then ')}.`
      : item.type === 'access' || item.type === 'resource' || item.sensitivity === 'sensitive'
        ? 'Your manager approves it first.'
        : item.type === 'standard_service' && item.changeModel === 'normal'
          ? 'The Change Advisory Board approves the installation first.'
          : 'No approval is needed.';
  steps.push(approval);
  if (item.type === 'standard_service')
    steps.push('It installs on your device the next time the device connects; you get a launch link.');
  if (item.type === 'access') steps.push('You are added to the access group and told by mail.');
  if (item.type === 'resource') steps.push('Procurement orders it and delivers it to you.');
  if (item.type === 'information')
    steps.push('You get an answer from the knowledge base, or from the service desk.');
  if (item.type === 'feedback') steps.push("The service's owner reads it and answers.");
  if (item.sla?.request) steps.push(`Expected within ${durationWords(item.sla.request)}.`);
  return steps;
}

interface Devices {
  devices: { id: string; name: string; state: string }[];
}

function Field({
  field,
  value,
  error,
  devices,
  onChange,
}: {
  field: FormField;
  value: string;
  error: string | undefined;
  devices: Devices['devices'];
  onChange: (v: string) => void;
}) {
  const id = `field-${field.name}`;
  const common = {
    id,
    name: field.name,
    value,
    required: field.required,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': error ? `${id}-error` : undefined,
  };
  let input;
  if (field.type === 'textarea')
    input = <textarea {...common} rows={4} onChange={(e) => onChange(e.target.value)} />;
  else if (field.type === 'device')
    input = (
      <select {...common} onChange={(e) => onChange(e.target.value)}>
        <option value="">Choose a device</option>
        {devices.map((d) => (
          <option key={d.id} value={d.id}>
            {d.name === d.id ? d.id : `${d.name} (${d.id})`}
          </option>
        ))}
      </select>
    );
  else if ((field.type === 'select' || field.type === 'choice') && field.options)
    input = (
      <select {...common} onChange={(e) => onChange(e.target.value)}>
        <option value="">Choose…</option>
        {field.options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    );
  else {
    // Types this portal does not know yet are typed in as text: the API validates them.
    const type = ['email', 'number', 'date', 'url', 'tel'].includes(field.type) ? field.type : 'text';
    input = <input {...common} type={type} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>
        {field.label}
        {field.required && (
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        )}
      </label>
      {input}
      {error && (
        <p className="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function CatalogItemPage({ itemId, user }: { itemId: string; user: SessionUser }) {
  const catalog = useApi<{ items: CatalogItem[] }>('/api/catalog');
  const mine = useApi<Devices>(`/api/cmdb/users/${encodeURIComponent(user.id)}`);
  // The detail adds what the list leaves out: the approval levels and the service level.
  const detail = useApi<CatalogItem>(`/api/catalog/${encodeURIComponent(itemId)}`);
  const listed = catalog.data?.items.find((i) => i.id === itemId);
  const item = listed && detail.data ? { ...listed, ...detail.data } : listed;
  const [values, setValues] = useState<Record<string, string>>({});
  const [justification, setJustification] = useState('');
  const [onBehalfOf, setOnBehalfOf] = useState('');
  const [accessUntil, setAccessUntil] = useState<string>();
  const [problem, setProblem] = useState<ApiProblem>();
  const [busy, setBusy] = useState(false);
  // One key per form shown: a double click or a retry after a lost answer makes one request.
  const idempotencyKey = useMemo(() => crypto.randomUUID(), [itemId]);

  if (catalog.error) return <p role="alert">{catalog.error}</p>;
  if (!catalog.data) return <p aria-busy="true">Loading…</p>;
  if (!item)
    return (
      <>
        <h1 tabIndex={-1}>Not in the catalog</h1>
        <p>
          There is no catalog item “{itemId}”. <Link href="/">Back to the catalog</Link>
        </p>
      </>
    );

  const fieldError = (name: string) => {
    const match = problem?.errors.find((e) => e.path.endsWith(`/${name}`));
    if (match) return match.message;
    // The API names the field in its detail: `Field "x" (…) is required`, `… send deviceId.`
    if (problem && (problem.detail.includes(`"${name}"`) || problem.detail.endsWith(` ${name}.`)))
      return problem.detail;
    return undefined;
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setProblem(undefined);
    const deviceField = item.formFields.find((f) => f.type === 'device');
    const fields = Object.fromEntries(
      item.formFields
        .filter((f) => f.type !== 'device' && values[f.name]?.trim())
        .map((f) => [f.name, values[f.name]!]),
    );
    try {
      const created = await post<RequestView>(
        '/api/requests',
        {
          catalogItemId: item.id,
          ...(deviceField && values[deviceField.name] ? { deviceId: values[deviceField.name] } : {}),
          ...(justification.trim() ? { justification } : {}),
          ...(onBehalfOf.trim() ? { onBehalfOf: onBehalfOf.trim() } : {}),
          ...(accessUntil ? { accessUntil } : {}),
          ...(Object.keys(fields).length ? { fields } : {}),
        },
        { 'idempotency-key': idempotencyKey },
      );
      navigate(`/requests/${created.id}`);
    } catch (err) {
      setProblem(err instanceof ApiProblem ? err : new ApiProblem(0, String(err)));
      setBusy(false);
    }
  };
  const devices = (mine.data?.devices ?? []).filter((d) => d.state !== 'unenrolled');
  const general =
    problem && !item.formFields.some((f) => fieldError(f.name)) && !fieldError('accessUntil')
      ? problem.detail
      : undefined;

  return (
    <>
      <p className="crumbs">
        <Link href="/">Catalog</Link> › {item.name}
      </p>
      <h1 tabIndex={-1}>{item.name}</h1>
      <p className="lead">{item.description}</p>
      <section aria-labelledby="next" className="panel">
        <h2 id="next">What happens next</h2>
        <ol>
          {whatHappensNext(item).map((s) => (
            <li key={s}>{s}</li>
          ))}
        </ol>
      </section>
      {!item.entitled && (
        <p className="note" role="note">
          Your role is not entitled to this item; a request goes to the service desk to decide.
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} noValidate aria-labelledby="request-form">
        <h2 id="request-form">Your request</h2>
        <p className="hint">
          Fields marked <span aria-hidden="true">*</span>
          <span className="sr-only">as required</span> are required.
        </p>
        {item.formFields.map((f) => (
          <Field
            key={f.name}
            field={f}
            value={values[f.name] ?? ''}
            error={fieldError(f.name)}
            devices={devices}
            onChange={(v) => {
              setValues((old) => ({ ...old, [f.name]: v }));
              // The error was about what was there before.
              setProblem(undefined);
            }}
          />
        ))}
        {item.accessDuration && (
          <AccessUntilField
            duration={item.accessDuration}
            error={fieldError('accessUntil')}
            onChange={(until) => {
              setAccessUntil(until);
              setProblem(undefined);
            }}
          />
        )}
        <div className="field">
          <label htmlFor="justification">Why do you need it? (optional)</label>
          <textarea
            id="justification"
            rows={3}
            value={justification}
            onChange={(e) => setJustification(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="on-behalf-of">For someone else? Their user id (optional)</label>
          <input
            id="on-behalf-of"
            value={onBehalfOf}
            aria-describedby="on-behalf-of-hint"
            onChange={(e) => setOnBehalfOf(e.target.value)}
          />
          <p className="hint" id="on-behalf-of-hint">
            Managers for their team, the service desk and operators may request on someone&apos;s behalf.
          </p>
        </div>
        <Problem text={general} />
        <button type="submit" className="primary" disabled={busy} aria-disabled={busy}>
          Submit request
        </button>
      </form>
    </>
  );
}
