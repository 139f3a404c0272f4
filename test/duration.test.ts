import { describe, expect, it } from 'vitest';
import { toMs } from '../domain/duration.js';

describe('toMs', () => {
  it('reads every unit the Temporal SDK reads, in short and long spellings', () => {
    expect(toMs('250ms')).toBe(250);
    expect(toMs('250')).toBe(250);
    expect(toMs('90s')).toBe(90_000);
    expect(toMs('15 minutes')).toBe(900_000);
    expect(toMs('1.5h')).toBe(5_400_000);
    expect(toMs('3 days')).toBe(259_200_000);
    expect(toMs('2w')).toBe(1_209_600_000);
    expect(toMs('1y')).toBe(31_557_600_000);
    expect(toMs('24H')).toBe(86_400_000);
    expect(toMs(1234)).toBe(1234);
  });

  it('refuses what is not a duration, naming it', () => {
    for (const bad of ['', 'soon', '5 parsecs', '1d2h', 'd', 'x'.repeat(101)]) {
      expect(() => toMs(bad)).toThrow(TypeError);
    }
    expect(() => toMs('soon')).toThrow("'soon'");
    expect(() => toMs(Number.NaN)).toThrow(TypeError);
  });
});
