import { toMs } from '../domain/duration.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApprovalOptions, StandardServiceOptions } from '../domain/request.js';
import { DEFAULT_TASK_QUEUE } from '../domain/temporal.js';
import { isPostgresUrl } from '../db/url.js';
import { readTemporalProfile, type TemporalProfile } from './temporal-profile.js';

/** The checkout: the nearest folder up with a package.json (sources run from it, a build from dist/). */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** The organisation's OpenID provider, whose access tokens the API accepts (README: "Connect your identity provider"). */
export interface OidcConfig {
  /** OIDC_ISSUER, exactly as the provider writes it in `iss`; unset: only the API's own tokens are accepted. */
  issuer: string | undefined;
  /** OIDC_AUDIENCE: the `aud` values accepted (comma-separated in the variable). */
  audiences: string[];
  /** OIDC_USERNAME_CLAIM: the claim matched to a reqflow user's userName (or externalId). */
  usernameClaim: string;
  /** Least time between two key-set fetches that a token with an unknown key id may cause. */
  jwksCooldownMs: number;
  /** OIDC_CLIENT_ID: the portal's client at the provider; unset, the portal offers no OIDC sign-in. */
  clientId: string | undefined;
  /** OIDC_CLIENT_SECRET: the portal's client secret; unset, the portal is a public client (PKCE alone). */
  clientSecret: string | undefined;
  /** OIDC_SCOPES: what the portal asks for at sign-in. */
  scopes: string;
}

export interface Config {
  dataDir: string;
  databaseFile: string;
  /** DATABASE_URL: PostgreSQL (`postgres://…`) instead of the SQLite file; unset: SQLite. */
  databaseUrl: string | undefined;
  /**
   * DATABASE_POOL_SIZE: most PostgreSQL connections one process opens (its pool; an API node
   * also holds one more, LISTENing for queued jobs). Every worker and API node has its own,
   * so the server must allow their sum.
   */
  databasePoolSize: number;
  host: string;
  port: number;
  /** Base URL people and devices use to reach the API (links in notifications). */
  publicUrl: string;
  /** Dev mode enables POST /api/dev/login (on loopback only); the embedded stack turns it on. */
  devMode: boolean;
  /** Secret the keys of user tokens and links are derived from; generated into DATA_DIR in dev mode. */
  secret: string | undefined;
  oidc: OidcConfig;
  /** When set, GET /metrics requires `Authorization: Bearer <metricsToken>`; unset, it is open like /health. */
  metricsToken: string | undefined;
  /**
   * sha256 (hex) of SCIM_TOKEN, the identity provider's bearer token for /scim/v2; the
   * token itself is not kept. Unset: SCIM provisioning is off (/scim/v2 answers 404).
   */
  scimTokenHash: string | undefined;
  packagesDirs: string[];
  /** The service catalog's files (CATALOG_DIR), applied at start and on POST /api/catalog/reload. */
  catalogDir: string;
  temporal: {
    /** Set when TEMPORAL_ADDRESS (or an envconfig profile) names a server; otherwise the embedded one. */
    address: string;
    /** True when TEMPORAL_ADDRESS or the profile names the server, false for the embedded default. */
    external: boolean;
    namespace: string;
    /** TLS, API key and gRPC metadata from the profile and TEMPORAL_* variables. */
    connection: TemporalProfile['connection'];
    taskQueue: string;
    uiUrl: string;
  };
  standardService: StandardServiceOptions;
  /** Reminder, escalation and expiry of approvals. */
  approval: ApprovalOptions;
  /** How long a resource delivery may take before it is escalated. */
  resourceDeliveryTimeout: string;
  /** Time-bound access and access reviews. */
  access: {
    /** How long before a grant ends its holder is reminded, with a renewal link. */
    remindBefore: string;
    /** How long before a review's deadline reviewers with undecided items are reminded. */
    reviewRemindBefore: string;
  };
  /** How long a requester may still say a knowledge answer did not help. */
  infoFeedbackWindow: string;
  /** How long approve/deny links in notifications stay valid. */
  approvalLinkTtlMs: number;
  /** How long POST /api/requests waits for the entitlement result before answering 202 anyway. */
  submitWaitMs: number;
  /** Longest a device's GET /api/agent/jobs is held open. */
  agentPollMaxSeconds: number;
  /**
   * WORKER_MAX_CACHED_WORKFLOWS: runs the worker keeps in memory between their workflow tasks.
   * A waiting request that falls out of the cache costs nothing until its next event, which
   * replays its (short) history; a cached one costs about half a megabyte.
   */
  workerMaxCachedWorkflows: number;
  /** Set by `npm start`: its supervisor's state file, whose restart counts /metrics serves. */
  stackStateFile: string | undefined;
  /** PORTAL_DIR: the built portal the API serves at `/` (scripts/build-portal.ts writes it). */
  portalDir: string;
  /** Fastify's trustProxy: which proxies' X-Forwarded-For names the client (rate limits key on it). */
  trustProxy: boolean | string[];
  /** Requests per minute; 0 turns that limit off (README: "Limits"). */
  rateLimits: RateLimits;
  /** Mean event-loop delay (ms) above which the API answers 503 instead of queueing more work; 0: never. */
  maxEventLoopDelayMs: number;
}

/** Requests per minute that one client may make; a person never meets them, a flooding script does. */
export interface RateLimits {
  /** Every route, per client address. */
  perIp: number;
  /** Every authenticated route, per user. */
  perUser: number;
  /** POST /api/dev/login, per client address. */
  login: number;
  /** Approve/deny link and survey pages, per client address. */
  links: number;
  /** POST /api/requests, per user. */
  submit: number;
  /** Comments on requests and tasks, per user. */
  comments: number;
}

/** TRUST_PROXY: unset/false, true (any proxy), or comma-separated proxy addresses/CIDRs. */
function trustProxy(value: string | undefined): boolean | string[] {
  const v = (value ?? '').trim();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  return v
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
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
    toMs(v);
  } catch {
    throw new Error(`${name} must be a duration like "90s", "15m" or "24h", got "${v}"`);
  }
  return v;
}

/** Provisioning tokens are long-lived bearer credentials: short ones are guessable. */
const MIN_SCIM_TOKEN_LENGTH = 32;

function scimTokenHash(token: string | undefined): string | undefined {
  if (!token) return undefined;
  if (token.length < MIN_SCIM_TOKEN_LENGTH)
    throw new Error(
      `SCIM_TOKEN must be at least ${MIN_SCIM_TOKEN_LENGTH} characters (e.g. openssl rand -hex 32)`,
    );
  return createHash('sha256').update(token).digest('hex');
}

function databaseUrl(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!isPostgresUrl(value)) {
    throw new Error(
      'DATABASE_URL must be a PostgreSQL URL (postgres://user@host:port/db); unset it for SQLite',
    );
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.DATA_DIR ?? 'data');
  const port = int(env.PORT, 3000, 'PORT');
  const host = env.HOST ?? '127.0.0.1';
  const profile = readTemporalProfile(env);
  return {
    dataDir,
    databaseFile: resolve(env.DATABASE_FILE ?? resolve(dataDir, 'reqflow.db')),
    databaseUrl: databaseUrl(env.DATABASE_URL),
    databasePoolSize: Math.max(1, int(env.DATABASE_POOL_SIZE, 10, 'DATABASE_POOL_SIZE')),
    host,
    port,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/$/, ''),
    devMode: env.REQFLOW_DEV_MODE === '1' || env.REQFLOW_DEV_MODE === 'true',
    secret: env.REQFLOW_SECRET || undefined,
    oidc: {
      issuer: env.OIDC_ISSUER || undefined,
      audiences: (env.OIDC_AUDIENCE ?? '')
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
      usernameClaim: env.OIDC_USERNAME_CLAIM || 'preferred_username',
      jwksCooldownMs: toMs(duration(env.OIDC_JWKS_COOLDOWN, '30s', 'OIDC_JWKS_COOLDOWN')),
      clientId: env.OIDC_CLIENT_ID || undefined,
      clientSecret: env.OIDC_CLIENT_SECRET || undefined,
      scopes: env.OIDC_SCOPES || 'openid profile',
    },
    metricsToken: env.METRICS_TOKEN || undefined,
    scimTokenHash: scimTokenHash(env.SCIM_TOKEN),
    packagesDirs: (env.PACKAGES_DIR ?? resolve(repoRoot, 'packages'))
      .split(':')
      .filter(Boolean)
      .map((p) => resolve(p)),
    catalogDir: resolve(env.CATALOG_DIR ?? resolve(repoRoot, 'catalog')),
    temporal: {
      address: profile.address ?? '127.0.0.1:7233',
      external: profile.address !== undefined,
      namespace: profile.namespace ?? 'default',
      connection: profile.connection,
      taskQueue: env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
      uiUrl: (env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/$/, ''),
    },
    standardService: {
      deviceWaitTimeout: duration(env.DEVICE_WAIT_TIMEOUT, '24h', 'DEVICE_WAIT_TIMEOUT'),
      // Long enough to span a weekend: somebody on the service desk looks at the device first.
      decisionTimeout: duration(env.DEPLOYMENT_DECISION_TIMEOUT, '3d', 'DEPLOYMENT_DECISION_TIMEOUT'),
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
    access: {
      remindBefore: duration(env.ACCESS_REMIND_BEFORE, '1d', 'ACCESS_REMIND_BEFORE'),
      reviewRemindBefore: duration(env.ACCESS_REVIEW_REMIND_BEFORE, '2d', 'ACCESS_REVIEW_REMIND_BEFORE'),
    },
    infoFeedbackWindow: duration(env.INFO_FEEDBACK_WINDOW, '3d', 'INFO_FEEDBACK_WINDOW'),
    approvalLinkTtlMs: toMs(duration(env.APPROVAL_LINK_TTL, '14d', 'APPROVAL_LINK_TTL')),
    submitWaitMs: int(env.SUBMIT_WAIT_MS, 3000, 'SUBMIT_WAIT_MS'),
    agentPollMaxSeconds: int(env.AGENT_POLL_MAX_SECONDS, 25, 'AGENT_POLL_MAX_SECONDS'),
    workerMaxCachedWorkflows: int(env.WORKER_MAX_CACHED_WORKFLOWS, 100, 'WORKER_MAX_CACHED_WORKFLOWS'),
    trustProxy: trustProxy(env.TRUST_PROXY),
    // Per minute. A portal user clicks a few times a second at most; an approver clearing an
    // inbox of a hundred, or an integration retrying with backoff, stays far below these. The
    // e2e tests and the chaos suite, all from loopback, stay below them too.
    rateLimits: {
      perIp: int(env.RATE_LIMIT_PER_IP, 12_000, 'RATE_LIMIT_PER_IP'),
      perUser: int(env.RATE_LIMIT_PER_USER, 6_000, 'RATE_LIMIT_PER_USER'),
      login: int(env.RATE_LIMIT_LOGIN, 60, 'RATE_LIMIT_LOGIN'),
      links: int(env.RATE_LIMIT_LINKS, 120, 'RATE_LIMIT_LINKS'),
      submit: int(env.RATE_LIMIT_SUBMIT, 600, 'RATE_LIMIT_SUBMIT'),
      comments: int(env.RATE_LIMIT_COMMENTS, 120, 'RATE_LIMIT_COMMENTS'),
    },
    maxEventLoopDelayMs: int(env.MAX_EVENT_LOOP_DELAY_MS, 1000, 'MAX_EVENT_LOOP_DELAY_MS'),
    stackStateFile: env.REQFLOW_STACK_STATE || undefined,
    portalDir: resolve(env.PORTAL_DIR ?? resolve(repoRoot, 'dist/portal')),
  };
}
