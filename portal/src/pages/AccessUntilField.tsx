import { useState } from 'react';
import type { AccessDuration } from '../api.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day' };

const durationMs = (d: string) => {
  const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(d);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : NaN;
};

/** "7d" as "7 days". */
export function durationWords(d: string): string {
  const m = /^([0-9]+)(s|m|h|d)$/.exec(d);
  if (!m) return d;
  return `${m[1]} ${UNIT_WORDS[m[2]!]}${m[1] === '1' ? '' : 's'}`;
}

/**
 * "For how long?": the durations the item offers, a day of the person's choosing, or (when the
 * item allows it) no end. Reports the chosen end as an ISO-8601 instant, or undefined for none.
 */
export function AccessUntilField({
  duration,
  error,
  onChange,
}: {
  duration: AccessDuration;
  error: string | undefined;
  onChange: (until: string | undefined) => void;
}) {
  const [choice, setChoice] = useState('');
  const [date, setDate] = useState('');
  const report = (c: string, d: string) => {
    if (c === 'date') onChange(d ? new Date(`${d}T23:59:59`).toISOString() : undefined);
    else if (c) onChange(new Date(Date.now() + durationMs(c)).toISOString());
    else onChange(undefined);
  };
  const describedBy = error ? 'access-until-error' : 'access-until-hint';
  return (
    <div className="field">
      <label htmlFor="access-until">
        For how long?
        {duration.required && (
          <span className="required" aria-hidden="true">
            {' '}
            *
          </span>
        )}
      </label>
      <select
        id="access-until"
        value={choice}
        required={duration.required}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy}
        onChange={(e) => {
          setChoice(e.target.value);
          report(e.target.value, date);
        }}
      >
        <option value="">{duration.required ? 'Choose…' : 'No end date'}</option>
        {(duration.choices ?? []).map((c) => (
          <option key={c} value={c}>
            {durationWords(c)}
          </option>
        ))}
        {duration.untilDate && <option value="date">Until a date</option>}
      </select>
      {choice === 'date' && (
        <>
          <label htmlFor="access-until-date">Last day of access</label>
          <input
            id="access-until-date"
            type="date"
            value={date}
            onChange={(e) => {
              setDate(e.target.value);
              report('date', e.target.value);
            }}
          />
        </>
      )}
      <p className="hint" id="access-until-hint">
        The access ends by itself; you are reminded before, with a link to renew it.
        {duration.maxDuration && ` At most ${durationWords(duration.maxDuration)}.`}
      </p>
      {error && (
        <p className="error" id="access-until-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
