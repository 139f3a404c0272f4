import { msToNumber } from '@temporalio/common/lib/time.js';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApprovalOptions, StandardServiceOptions } from '../domain/request.js';
import { DEFAULT_TASK_QUEUE } from '../domain/temporal.js';

/** The checkout: the nearest folder up with a package.json (sources run from it, a build from dist/). */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

export interface Config {
  dataDir: string;
  databaseFile: string;
  host: string;
  port: number;
  /** Base URL people and devices use to reach the API (links in notifications). */
  publicUrl: string;
  /** Dev mode enables POST /api/dev/login; the embedded stack turns it on. */
  devMode: boolean;
  /** Secret that signs user tokens; generated into DATA_DIR in dev mode. */
  secret: string | undefined;
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; unset, it is open like /health. */
  metricsToken: string | undefined;
  packagesDirs: string[];
  temporal: {
    /** Set when TEMPORAL_ADDRESS (or an envconfig profile) names a server; otherwise the embedded one. */
    address: string;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
  };
  standardService: StandardServiceOptions;
  /** Reminder, escalation and expiry of approvals. */
  approval: ApprovalOptions;
  /** How long a resource delivery may take before it is escalated. */
  resourceDeliveryTimeout: string;
  /** How long a requester may still say a knowledge answer did not help. */
  infoFeedbackWindow: string;
  /** How long approve/deny links in notifications stay valid. */
  approvalLinkTtlMs: number;
  /** How long POST /api/requests waits for the entitlement result before answering 202 anyway. */
  submitWaitMs: number;
  /** Longest a device's GET /api/agent/jobs is held open. */
  agentPollMaxSeconds: number;
  /** Set by `npm start`: its supervisor's state file, whose restart counts /metrics serves. */
  stackStateFile: string | undefined;
}

function int(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function duration(value: string | undefined, fallback: string, name: string): string {
  const v = value === undefined || value === '' ? fallback : value;
  try {
    msToNumber(v as Parameters<typeof msToNumber>[0]);
  } catch {
    throw new Error(`${name} must be a duration like "90s", "15m" or "24h", got "${v}"`);
  }
  return v;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.DATA_DIR ?? 'data');
  const port = int(env.PORT, 3000, 'PORT');
  const host = env.HOST ?? '127.0.0.1';
  return {
    dataDir,
    databaseFile: resolve(env.DATABASE_FILE ?? resolve(dataDir, 'reqflow.db')),
    host,
    port,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/$/, ''),
    devMode: env.REQFLOW_DEV_MODE === '1' || env.REQFLOW_DEV_MODE === 'true',
    secret: env.REQFLOW_SECRET || undefined,
    metricsToken: env.METRICS_TOKEN || undefined,
    packagesDirs: (env.PACKAGES_DIR ?? resolve(repoRoot, 'packages'))
      .split(':')
      .filter(Boolean)
      .map((p) => resolve(p)),
    temporal: {
      address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
      namespace: env.TEMPORAL_NAMESPACE ?? 'default',
      taskQueue: env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
      uiUrl: (env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/$/, ''),
    },
    standardService: {
      deviceWaitTimeout: duration(env.DEVICE_WAIT_TIMEOUT, '24h', 'DEVICE_WAIT_TIMEOUT'),
      maxDeployAttempts: Math.max(1, int(env.DEPLOY_MAX_ATTEMPTS, 3, 'DEPLOY_MAX_ATTEMPTS')),
      seatRetryInterval: duration(env.SEAT_RETRY_INTERVAL, '1h', 'SEAT_RETRY_INTERVAL'),
      seatWaitTimeout: duration(env.SEAT_WAIT_TIMEOUT, '7d', 'SEAT_WAIT_TIMEOUT'),
    },
    approval: {
      remindAfter: duration(env.APPROVAL_REMIND_AFTER, '2d', 'APPROVAL_REMIND_AFTER'),
      escalateAfter: duration(env.APPROVAL_ESCALATE_AFTER, '4d', 'APPROVAL_ESCALATE_AFTER'),
      expireAfter: duration(env.APPROVAL_EXPIRE_AFTER, '14d', 'APPROVAL_EXPIRE_AFTER'),
    },
    resourceDeliveryTimeout: duration(env.RESOURCE_DELIVERY_TIMEOUT, '14d', 'RESOURCE_DELIVERY_TIMEOUT'),
    infoFeedbackWindow: duration(env.INFO_FEEDBACK_WINDOW, '3d', 'INFO_FEEDBACK_WINDOW'),
    approvalLinkTtlMs: msToNumber(
      duration(env.APPROVAL_LINK_TTL, '14d', 'APPROVAL_LINK_TTL') as Parameters<typeof msToNumber>[0],
    ),
    submitWaitMs: int(env.SUBMIT_WAIT_MS, 3000, 'SUBMIT_WAIT_MS'),
    agentPollMaxSeconds: int(env.AGENT_POLL_MAX_SECONDS, 25, 'AGENT_POLL_MAX_SECONDS'),
    stackStateFile: env.REQFLOW_STACK_STATE || undefined,
  };
}
