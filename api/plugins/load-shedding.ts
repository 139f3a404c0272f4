import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { unavailable } from '../errors.js';

/** Seconds a client is asked to wait: long enough for a backlog to drain, short for a person. */
const RETRY_AFTER_S = 5;
/**
 * The delay is the mean over this window. A one-off block (startup compiling schemas, a
 * big page) is one long sample among hundreds of short ones; only a loop that stays behind
 * moves the mean. A short window would turn one blocked second into a second of 503s.
 */
const SAMPLE_INTERVAL_MS = 5_000;

/**
 * Answers 503 (problem+json, Retry-After) while the event loop lags by more than
 * `maxEventLoopDelayMs` on average: a queue of requests that would all time out is worse
 * than a quick refusal a client retries. 0 turns it off.
 */
export default fp(
  async function loadShedding(app: FastifyInstance, opts: { maxEventLoopDelayMs: number }) {
    if (opts.maxEventLoopDelayMs <= 0) return;
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      sampleInterval: SAMPLE_INTERVAL_MS,
      retryAfter: RETRY_AFTER_S,
      pressureHandler: async (_request, reply, type, value) => {
        reply.header('retry-after', String(RETRY_AFTER_S));
        throw unavailable(
          `The API is overloaded (${type} ${Math.round(Number(value))}); retry in ${RETRY_AFTER_S} s.`,
        );
      },
    });
  },
  { name: 'load-shedding', dependencies: ['problems'] },
);
