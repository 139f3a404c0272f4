/**
 * Durations as configuration, the catalog and workflow inputs write them ("90s", "15m",
 * "3 days", "1.5h") or a number of milliseconds. The grammar is the one the Temporal SDK
 * accepts for its own durations (the `ms` package's), so a value valid for a Temporal timeout
 * is valid here and means the same. Pure: workflows use it too.
 */
export type Duration = number | string;

const UNITS: [RegExp, number][] = [
  [/^(milliseconds?|msecs?|ms)$/, 1],
  [/^(seconds?|secs?|s)$/, 1000],
  [/^(minutes?|mins?|m)$/, 60_000],
  [/^(hours?|hrs?|h)$/, 3_600_000],
  [/^(days?|d)$/, 86_400_000],
  [/^(weeks?|w)$/, 7 * 86_400_000],
  [/^(years?|yrs?|y)$/, 365.25 * 86_400_000],
];

const DURATION = /^(-?(?:\d+)?\.?\d+) *([a-z]*)$/i;

/** Milliseconds of a duration; a TypeError naming the value for anything else. */
export function toMs(value: Duration): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    throw new TypeError(`Invalid duration: ${value}`);
  }
  const match = value.length <= 100 ? DURATION.exec(value) : null;
  const unit = (match?.[2] || 'ms').toLowerCase();
  const factor = UNITS.find(([names]) => names.test(unit))?.[1];
  if (!match || factor === undefined) throw new TypeError(`Invalid duration: '${value}'`);
  return parseFloat(match[1]!) * factor;
}
