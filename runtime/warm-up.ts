import { Client, type ConnectionLike } from '@temporalio/client';
import { hostname } from 'node:os';

/**
 * Starts the warm-up workflow (workflows/warm-up.ts) on the worker's task queue, once the
 * worker polls, and does not wait for it: the worker runs it in the background while it takes
 * requests. With several workers it goes to whichever polls first; each start leaves one
 * closed `workerWarmUp` run in the namespace. Never throws: a worker that could not start it
 * is only cold for its first request. Returns the workflow id, or undefined when it did not start.
 */
export async function startWarmUp(
  connection: ConnectionLike,
  temporal: { namespace: string; taskQueue: string },
  log: (line: string) => void,
): Promise<string | undefined> {
  const workflowId = `worker-warm-up-${hostname()}-${process.pid}-${Date.now()}`;
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    await client.workflow.start('workerWarmUp', {
      taskQueue: temporal.taskQueue,
      workflowId,
      args: [],
      // Nobody waits for it; a worker that stops before running it leaves nothing open for long.
      workflowRunTimeout: '1m',
    });
    return workflowId;
  } catch (err) {
    log(
      `warning: the worker's warm-up workflow did not start: ${err instanceof Error ? err.message : String(err)}`,
    );
    return undefined;
  }
}
