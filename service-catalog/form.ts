import type { FormField } from '../db/schema.js';

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

function isDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().startsWith(value);
}

/**
 * What is wrong with the submitted values of an item's form, one message per field that names
 * it; empty when nothing is. Device fields are checked against the devices by the submission.
 */
export function formProblems(
  form: readonly FormField[],
  values: Readonly<Record<string, string>>,
  itemName: string,
): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  for (const f of form) {
    if (f.type === 'device') continue;
    const value = values[f.name]?.trim() ?? '';
    const say = (message: string) =>
      problems.push({ field: f.name, message: `Field "${f.name}" (${f.label}) ${message}` });
    if (!value) {
      if (f.required) say(`is required for ${itemName}.`);
      continue;
    }
    if (f.type === 'select' && !(f.options ?? []).includes(value)) {
      say(`must be one of: ${(f.options ?? []).join(', ')}.`);
    } else if (f.type === 'date' && !isDate(value)) {
      say('must be a date written YYYY-MM-DD.');
    }
    if (f.maxLength !== undefined && value.length > f.maxLength)
      say(`is longer than ${f.maxLength} characters.`);
    // The catalog check made sure the pattern compiles; it must match the whole value.
    if (f.pattern !== undefined && !new RegExp(`^(?:${f.pattern})$`, 'u').test(value)) {
      say(`does not have the expected form${f.help ? ` (${f.help})` : ''}.`);
    }
  }
  return problems;
}
