import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { historiesDir, historyFromJSON } from './helpers/histories.js';
import { setUpWorkflowBundle, workflowsPath as defaultWorkflowsPath } from './helpers/workflow-bundle.js';

// Requests in flight when a worker is upgraded replay their history on the new workflow code;
// a change to the commands a workflow issues breaks them. Replaying recorded histories
// (npm run histories:record) against the current code catches that before it ships. No server:
// the replay worker feeds the history to the workflow and compares the commands it produces.
// REPLAY_WORKFLOWS_PATH points at another workflows barrel, e.g. a deliberately broken copy.

const workflowsPath = process.env.REPLAY_WORKFLOWS_PATH
  ? resolve(process.env.REPLAY_WORKFLOWS_PATH)
  : defaultWorkflowsPath;

/** Recorded histories by workflow type, the folder names under test/histories. */
const recorded = new Map<string, string[]>(
  (existsSync(historiesDir) ? readdirSync(historiesDir, { withFileTypes: true }) : [])
    .filter((d) => d.isDirectory())
    .map((d) => [
      d.name,
      readdirSync(join(historiesDir, d.name))
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ]),
);

/** The ids of the patches a recorded history took (its `core_patch` markers). */
/** The ids of the patches a recorded history's markers name (payload data is base64 in the JSON). */
function patchIds(json: string): string[] {
  return (historyFromJSON(json).events ?? []).flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data: unknown =
      marker?.markerName === 'core_patch' ? marker.details?.['patch-data']?.payloads?.[0]?.data : null;
    if (typeof data !== 'string') return [];
    return [(JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { id: string }).id];
  });
}

/** The patch ids of one recorded history of a workflow type. */
const patchesOf = (type: string, file: string) =>
  patchIds(readFileSync(join(historiesDir, type, file), 'utf8'));

let bundle: WorkflowBundleWithSourceMap;
let workflowTypes: string[];

beforeAll(async () => {
  bundle = await setUpWorkflowBundle(workflowsPath);
  // Outside the sandbox only to list names: every exported function is a workflow type.
  const barrel = (await import(pathToFileURL(workflowsPath).href)) as Record<string, unknown>;
  workflowTypes = Object.keys(barrel)
    .filter((name) => typeof barrel[name] === 'function')
    .sort();
});

describe('recorded workflow histories', () => {
  it('exist for every workflow type the worker registers', () => {
    const missing = workflowTypes.filter((type) => !recorded.get(type)?.length);
    expect(
      missing,
      `no recorded history for ${missing.join(', ')}: record one from its tests with recordHistory() ` +
        '(test/helpers/histories.ts) and run npm run histories:record',
    ).toEqual([]);
  });

  it('cover a failed deployment both before the operator decision wait and with it', () => {
    // Runs recorded before patched('deployment-decision') ended failed at once (and were retried by
    // a workflow reset); they must go on replaying on that path while newer runs wait for a decision.
    const type = 'standardServiceRequest';
    for (const old of [
      'deployment-failed-compensated-before-decision.json',
      'retried-after-reset-before-decision.json',
    ])
      expect(patchesOf(type, old), old).not.toContain('deployment-decision');
    for (const current of ['deployment-failed-compensated.json', 'retried-by-operator.json'])
      expect(patchesOf(type, current), current).toContain('deployment-decision');
  });

  it('cover an approved access request both before the approval notice ran beside the grant and with it', () => {
    // Runs recorded before patched('approval-notice-beside-grant') sent the notice, then granted;
    // they must go on replaying on that path while newer runs send it beside the grant.
    for (const name of [
      'approver-deactivated-then-approved',
      'cancelled-while-granting',
      'escalated-then-approved',
      'quorum-of-two-people',
      'time-bound-granted',
    ]) {
      const old = `${name}-before-approval-notice-beside-grant.json`;
      expect(patchesOf('accessRequest', old), old).not.toContain('approval-notice-beside-grant');
      expect(patchesOf('accessRequest', `${name}.json`), name).toContain('approval-notice-beside-grant');
    }
  });

  it('cover the standard path both one step after another and with its steps side by side', () => {
    // Lean runs recorded before patched('steps-side-by-side') awaited each local activity alone;
    // they must go on replaying so while newer runs start independent steps together.
    const type = 'standardServiceRequest';
    for (const outcome of [
      'fulfilled',
      'not-entitled',
      'deployment-failed-compensated',
      'cancelled-waiting-for-device',
      'retried-by-operator',
    ]) {
      const before = `${outcome}-before-side-by-side.json`;
      expect(patchesOf(type, before), before).toContain('lean-standard-path');
      expect(patchesOf(type, before), before).not.toContain('steps-side-by-side');
      expect(patchesOf(type, `${outcome}.json`), outcome).toContain('steps-side-by-side');
    }
  });

  for (const [type, files] of recorded) {
    it(`replay on the current ${type} code`, async () => {
      const histories = files.map((file) => ({
        // Histories carry no workflow id; the file names the replay in any failure.
        workflowId: `${type}/${file}`,
        history: historyFromJSON(readFileSync(join(historiesDir, type, file), 'utf8')),
      }));
      const failures: string[] = [];
      for await (const result of Worker.runReplayHistories(
        { workflowBundle: bundle, replayName: `replay-${type}` },
        histories,
      )) {
        if (result.error)
          failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
      }
      expect(failures, failures.join('\n')).toEqual([]);
    });
  }
});
