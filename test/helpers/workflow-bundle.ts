import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { fileURLToPath } from 'node:url';

/** The barrel the worker registers (worker.ts bundles the same file). */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Once per test file (each runs in a fork of its own): quiets the SDK's runtime, which logs
 * every worker state change at INFO, and bundles the workflows once for all the file's
 * workers, since webpack takes seconds.
 */
export function setUpWorkflowBundle(path = workflowsPath): Promise<WorkflowBundleWithSourceMap> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  return bundleWorkflowCode({ workflowsPath: path, logger: new DefaultLogger('WARN') });
}
