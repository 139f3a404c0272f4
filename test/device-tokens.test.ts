import { describe, expect, it } from 'vitest';
import { hashDeviceToken, newToken } from '../devices/tokens.js';

describe('device and enrollment tokens', () => {
  it('are 43 base64url characters that never start with "-" (a command line would take them for an option)', () => {
    // One token in 64 would start with "-": 3,000 draws miss a regression with odds below 1e-20.
    const tokens = Array.from({ length: 3000 }, newToken);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  it('are kept as their sha256, the same for the same token', () => {
    const token = newToken();
    expect(hashDeviceToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashDeviceToken(token)).toBe(hashDeviceToken(token));
    expect(hashDeviceToken(token)).not.toBe(hashDeviceToken(newToken()));
  });
});
