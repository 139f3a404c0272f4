import type { AgentJob, JobResult } from './run-job.js';

/** The API refused the device token: retrying cannot help, a person has to issue a new one. */
export class AuthRejectedError extends Error {
  constructor(
    readonly status: number,
    detail?: string,
  ) {
    // The server's detail says why (unknown token, device unenrolled), which is what a person needs.
    const why = detail ? `, saying: ${detail.replace(/\.$/, '')}` : '';
    super(`the API refused the device token (HTTP ${status})${why}`);
  }
}

/** The API could not be reached or failed (down, restarting, 5xx): worth trying again later. */
export class ApiUnavailableError extends Error {}

/** A job the agent could not read; reported as failed when it at least has an id. */
export interface UnreadableJob {
  id: string | undefined;
  reason: string;
}

export type PolledJob = { job: AgentJob } | { unreadable: UnreadableJob };

export type ReportAnswer =
  | { kind: 'delivered' }
  /** The job expired or was already reported: the server has moved on, so resending is pointless. */
  | { kind: 'conflict'; detail: string }
  /** The server rejected the report itself (4xx); resending the same body would fail again. */
  | { kind: 'rejected'; status: number; detail: string };

export interface AgentClientOptions {
  api: string;
  token: string;
}

/** A long poll may hang this much longer than the wait it asked for before we call it dead. */
const POLL_SLACK_MS = 10_000;
/** A result post is small and the server only writes a row and signals a workflow. */
const REPORT_TIMEOUT_MS = 15_000;

export function createAgentClient({ api, token }: AgentClientOptions) {
  const base = api.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };

  return {
    /** Waits up to `waitSeconds` for jobs; resolves with none when the wait ran out. */
    async pollJobs(waitSeconds: number, signal: AbortSignal): Promise<PolledJob[]> {
      const res = await request(
        `${base}/api/agent/jobs?waitSeconds=${waitSeconds}`,
        { headers },
        waitSeconds * 1000 + POLL_SLACK_MS,
        signal,
      );
      if (res.status === 401 || res.status === 403)
        throw new AuthRejectedError(res.status, await detailOf(res));
      if (res.status !== 200) {
        throw new ApiUnavailableError(`poll answered HTTP ${res.status}: ${await detailOf(res)}`);
      }
      const body = (await res.json().catch(() => null)) as { jobs?: unknown } | null;
      if (!body || !Array.isArray(body.jobs))
        throw new ApiUnavailableError('poll answer has no "jobs" array');
      return body.jobs.map(readJob);
    },

    /** `signal` is only for a forced shutdown; a plain stop still delivers the finished job's result. */
    async reportResult(jobId: string, result: JobResult, signal?: AbortSignal): Promise<ReportAnswer> {
      const res = await request(
        `${base}/api/agent/jobs/${encodeURIComponent(jobId)}/result`,
        {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(result),
        },
        REPORT_TIMEOUT_MS,
        signal,
      );
      if (res.ok) {
        await res.body?.cancel();
        return { kind: 'delivered' };
      }
      if (res.status === 401 || res.status === 403)
        throw new AuthRejectedError(res.status, await detailOf(res));
      if (res.status === 409) return { kind: 'conflict', detail: await detailOf(res) };
      if (res.status >= 500 || res.status === 408 || res.status === 429) {
        throw new ApiUnavailableError(`result answered HTTP ${res.status}: ${await detailOf(res)}`);
      }
      return { kind: 'rejected', status: res.status, detail: await detailOf(res) };
    },
  };
}

export type AgentClient = ReturnType<typeof createAgentClient>;

/** fetch with a time limit and an optional caller's signal; network failures become ApiUnavailableError. */
export async function request(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer within ${timeoutMs / 1000}s`)),
    timeoutMs,
  );
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } catch (err) {
    // The caller's own abort is not an outage; let it through as it is.
    if (signal?.aborted) throw err;
    throw new ApiUnavailableError(describeFetchError(err));
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** undici hides the useful part ("ECONNREFUSED") in `cause`. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err.message;
}

/** The problem+json detail or title when there is one, else the start of the body. */
export async function detailOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const problem = JSON.parse(text) as { detail?: unknown; title?: unknown; message?: unknown };
    for (const field of [problem.detail, problem.message, problem.title]) {
      if (typeof field === 'string' && field !== '') return field;
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return text.slice(0, 200) || res.statusText || 'no details';
}

/** Checks what the agent relies on; anything else the server sends along is ignored. */
function readJob(raw: unknown): PolledJob {
  const id = isRecord(raw) && typeof raw.id === 'string' && raw.id !== '' ? raw.id : undefined;
  const problem = jobProblem(raw);
  return problem ? { unreadable: { id, reason: problem } } : { job: raw as AgentJob };
}

function jobProblem(raw: unknown): string | undefined {
  if (!isRecord(raw)) return 'job is not an object';
  for (const field of ['id', 'requestId'] as const) {
    if (typeof raw[field] !== 'string' || raw[field] === '') return `job has no ${field}`;
  }
  if (raw.action !== 'install' && raw.action !== 'uninstall')
    return `unknown action ${JSON.stringify(raw.action)}`;
  if (!Number.isInteger(raw.attempt)) return 'job has no attempt number';
  const pkg = raw.package;
  if (!isRecord(pkg)) return 'job has no package';
  for (const field of ['id', 'name', 'version'] as const) {
    if (typeof pkg[field] !== 'string' || pkg[field] === '') return `package has no ${field}`;
  }
  if (typeof pkg.timeoutSeconds !== 'number' || !(pkg.timeoutSeconds > 0))
    return 'package has no valid timeoutSeconds';
  const scripts = pkg.scripts;
  if (!isRecord(scripts)) return 'package has no scripts';
  for (const name of ['detect', 'install', 'uninstall'] as const) {
    if (typeof scripts[name] !== 'string') return `package has no ${name} script`;
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
