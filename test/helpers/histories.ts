import type { WorkflowHandle } from '@temporalio/client';
import {
  historyFromJSON as sdkHistoryFromJSON,
  historyToJSON as sdkHistoryToJSON,
} from '@temporalio/common/lib/proto-utils.js';
import type proto from '@temporalio/proto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type History = proto.temporal.api.history.v1.IHistory;

/** Where recorded histories live, one folder per workflow type; test/replay.test.ts replays them. */
export const historiesDir = fileURLToPath(new URL('../histories', import.meta.url));

/**
 * A history in the ProtoJSON the Temporal CLI and UI export (the SDK's own conversion), one
 * event a line: a third the size of pretty-printed JSON, and a diff still shows which events
 * a re-recording changed. (package.json depends on protobufjs 8 directly so the SDK packages
 * share one copy of it; with two copies the SDK's conversion fails with "type must be a Type".)
 */
export function historyToJSON(history: History): string {
  const { events } = JSON.parse(sdkHistoryToJSON(history)) as { events: unknown[] };
  return `{"events":[\n${events.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}

/** Reads what historyToJSON wrote, ready for Worker.runReplayHistories. */
export function historyFromJSON(json: string): History {
  const history = sdkHistoryFromJSON(JSON.parse(json));
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
  writeFileSync(join(dir, `${name}.json`), historyToJSON(await handle.fetchHistory()));
}
