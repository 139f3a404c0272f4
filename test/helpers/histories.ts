import type { WorkflowHandle } from '@temporalio/client';
import type proto from '@temporalio/proto';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';

type History = proto.temporal.api.history.v1.IHistory;

/** Where recorded histories live, one folder per workflow type; test/replay.test.ts replays them. */
export const historiesDir = fileURLToPath(new URL('../histories', import.meta.url));

/**
 * A workflow's history in the ProtoJSON the Temporal CLI and UI export, exported by the CLI
 * itself from the test server (the SDK's own converter is not part of its public API), one
 * event a line: a third the size of pretty-printed JSON, and a diff still shows which events
 * a re-recording changed.
 */
export async function exportHistory(handle: Pick<WorkflowHandle, 'workflowId'>): Promise<string> {
  const { stdout } = await promisify(execFile)(
    inject('temporalCliPath'),
    [
      'workflow',
      'show',
      '--address',
      inject('temporalAddress'),
      '--workflow-id',
      handle.workflowId,
      '--output',
      'json',
    ],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  const { events } = JSON.parse(stdout) as { events: unknown[] };
  return `{"events":[\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}

/**
 * Reads what exportHistory wrote, for Worker.runReplayHistories: the SDK's replayer takes the
 * ProtoJSON as it is and converts it.
 */
export function historyFromJSON(json: string): History {
  const history = JSON.parse(json) as History;
  if (!history.events?.length) throw new TypeError('not a workflow history');
  return history;
}

/**
 * Under `npm run histories:record` (RECORD_HISTORIES=1), writes the finished workflow's event
 * history to test/histories/<workflowType>/<name>.json. Otherwise does nothing, so the tests
 * that call it stay as fast as before.
 *
 * Waits for the workflow to close first: a history cut mid-run would not cover the branch the
 * test is about. A workflow that fails is recorded too; its failure is the test's business.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await handle.result().catch(() => undefined);
  const { type } = await handle.describe();
  const dir = join(historiesDir, type);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), await exportHistory(handle));
}
