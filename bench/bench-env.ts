/**
 * What the stack gets beyond a chaos run's environment. The limits protect a real service from
 * a runaway client; here the client is the benchmark, whose load is the point, so they are out
 * of its way (their checks still run on every request).
 */
export const BENCH_ENV = {
  RATE_LIMIT_PER_IP: '10000000',
  RATE_LIMIT_PER_USER: '10000000',
  RATE_LIMIT_LOGIN: '10000000',
  RATE_LIMIT_SUBMIT: '10000000',
  MAX_EVENT_LOOP_DELAY_MS: '0',
};
