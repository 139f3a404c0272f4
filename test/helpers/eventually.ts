import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Reads until `ok` holds, for up to `timeoutMs`; returns the last value either way (the test's
 * own expectation then says what was wrong). The read may query the database, which is async
 * on PostgreSQL and SQLite alike.
 */
export async function eventually<T>(
  read: () => T | Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(150);
  }
}
