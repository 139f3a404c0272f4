import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { unavailable } from '../errors.js';

export interface DrainOptions {
  /** Longest `app.close()` waits for handlers still running before it lets the caller go on. */
  timeoutMs?: number;
}

/**
 * A graceful close: once `app.close()` starts, new requests get a 503 problem (and the
 * connection closes); `app.close()` resolves only when every handler has returned, even
 * one whose client hung up. The server closes its database and Temporal client after
 * that, so no handler finds them closed under it.
 */
async function drain(app: FastifyInstance, { timeoutMs = 15_000 }: DrainOptions) {
  let running = 0;
  let idle: (() => void) | undefined;
  let closing = false;

  // Node's server resolves close() once the sockets are gone, but a handler whose client
  // went away keeps running: count the handlers themselves.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    const done = () => {
      running -= 1;
      if (running === 0) idle?.();
    };
    route.handler = function (this: FastifyInstance, request, reply) {
      running += 1;
      let result: unknown;
      try {
        result = handler.call(this, request, reply);
      } catch (err) {
        done();
        throw err;
      }
      // Our handlers are async; a plugin's synchronous one (the docs) has finished already.
      if (result instanceof Promise) return result.finally(done);
      done();
      return result;
    };
  });

  app.addHook('preClose', async () => {
    closing = true;
  });

  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    reply.header('connection', 'close').header('retry-after', '5');
    throw unavailable('The API is shutting down; retry in a few seconds.');
  });

  app.addHook('onClose', async () => {
    if (running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      idle = resolve;
      timer = setTimeout(() => {
        app.log.warn(
          `${running} request handler(s) still running after ${timeoutMs / 1000} s; closing anyway`,
        );
        resolve();
      }, timeoutMs);
    });
    clearTimeout(timer);
  });
}

export default fp(drain, { name: 'drain', dependencies: ['problems'] });
