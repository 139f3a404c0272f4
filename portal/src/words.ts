// Statuses in words, as the service desk says them; `who` arrives as user ids and the
// portal names the people.

const STATUS_WORDS: Record<string, string> = {
  submitted: 'Submitted',
  checking_entitlement: 'Checking entitlement',
  awaiting_approval: 'Awaiting approval',
  approved: 'Approved',
  fulfilling: 'Being fulfilled',
  awaiting_task: 'Waiting on the service desk',
  awaiting_decision: 'Waiting for an operator to retry',
  fulfilled: 'Fulfilled',
  rejected: 'Rejected',
  denied: 'Denied',
  cancelled: 'Cancelled',
  failed: 'Failed',
  expired: 'Expired',
};

export const statusWords = (status: string) => STATUS_WORDS[status] ?? status.replaceAll('_', ' ');

const FINAL = new Set(['fulfilled', 'rejected', 'denied', 'cancelled', 'failed', 'expired']);
export const isFinal = (status: string) => FINAL.has(status);

/** "Awaiting approval by Erin Evans": the status, and who it waits on when a person does. */
export function statusLine(status: string, who: string[] | undefined, nameOf: (id: string) => string) {
  const words = statusWords(status);
  if (status !== 'awaiting_approval' || !who?.length) return words;
  return `${words} by ${listWords(who.map(nameOf))}`;
}

export function listWords(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** A `who` entry: a user id, or `group:x`, `device:x`, `request:x`. */
export function whoWords(who: string, nameOf: (id: string) => string): string {
  const [kind, id] = who.includes(':') ? (who.split(/:(.*)/) as [string, string]) : ['user', who];
  if (kind === 'group') return `the ${id} group`;
  if (kind === 'device') return `device ${id} to connect`;
  if (kind === 'request') return `request ${id}`;
  return nameOf(id);
}

export const stepWords = (name: string) => {
  const s = name.replaceAll('_', ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
};

export const TYPE_WORDS: Record<string, string> = {
  standard_service: 'Software',
  access: 'Access',
  resource: 'Hardware',
  information: 'Questions',
  feedback: 'Feedback',
};

/** "1d" -> "1 day", "4h" -> "4 hours": the SLA's duration as people read it. */
export function durationWords(d: string): string {
  const m = /^(\d+)\s*([smhdw])$/.exec(d.trim());
  if (!m) return d;
  const n = Number(m[1]);
  const units: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' };
  const unit = units[m[2]!]!;
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

export const when = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function msWords(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}
