import { Client, Connection } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApp } from '../api/app.js';
import type { DB } from '../db/client.js';
import { seed } from '../db/seed.js';
import { loadConfig, repoRoot } from '../runtime/config.js';
import { isLoopbackHost, startupProblems } from '../runtime/startup-checks.js';
import { freePort } from '../scripts/dev-server.js';
import { openTestDatabase } from './helpers/test-database.js';

// Dev mode is fenced to loopback, and a process with an unsafe configuration refuses to
// start: the API routes through buildApp, the processes (npm start's scripts/stack.ts,
// server.ts) as real child processes on a temporary DATA_DIR.

const SECRET = 'startup-test-secret-startup-test-secret';

let db: DB;
let temporal: Client;

beforeAll(async () => {
  db = await openTestDatabase();
  await seed(db);
  temporal = new Client({ connection: await Connection.connect({ address: inject('temporalAddress') }) });
});

afterAll(async () => {
  await temporal?.connection.close();
});

const config = (env: Record<string, string>) =>
  loadConfig({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'reqflow-startup-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    REQFLOW_SECRET: SECRET,
    // A loaded CI machine lags this process's event loop: no 503 from load shedding here.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ...env,
  });

describe('dev mode', () => {
  it('serves dev login on loopback only', async () => {
    for (const [host, status] of [
      ['127.0.0.1', 200],
      ['localhost', 200],
      ['::1', 200],
      ['0.0.0.0', 404],
      ['192.168.1.20', 404],
      ['::', 404],
    ] as const) {
      const app = await buildApp({
        db,
        temporal,
        config: config({ REQFLOW_DEV_MODE: '1', HOST: host }),
        secret: SECRET,
      });
      try {
        const login = await app.inject({
          method: 'POST',
          url: '/api/dev/login',
          payload: { userId: 'alice' },
        });
        const outbox = await app.inject({ url: '/api/dev/outbox' });
        expect({ host, login: login.statusCode, outbox: outbox.statusCode }).toEqual({
          host,
          login: status,
          // Without a token: 401 where the route exists.
          outbox: status === 200 ? 401 : 404,
        });
      } finally {
        await app.close();
      }
    }
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]'])
      expect(isLoopbackHost(host)).toBe(true);
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      'localhost.evil.test',
      '127.0.0.1.evil.test',
      'example.com',
    ])
      expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('startup checks', () => {
  const problems = (env: Record<string, string>, role?: 'api' | 'worker') =>
    startupProblems(loadConfig({ DATA_DIR: '/nonexistent', ...env }), role);

  it('accepts the embedded default and a complete production configuration', () => {
    expect(problems({ REQFLOW_DEV_MODE: '1' })).toEqual([]);
    expect(
      problems({
        HOST: '0.0.0.0',
        REQFLOW_SECRET: SECRET,
        OIDC_ISSUER: 'https://login.example.com/realms/acme',
        OIDC_AUDIENCE: 'reqflow-api',
      }),
    ).toEqual([]);
    expect(
      problems({
        REQFLOW_SECRET: SECRET,
        OIDC_ISSUER: 'http://localhost:8080/realms/dev',
        OIDC_AUDIENCE: 'a',
      }),
    ).toEqual([]);
  });

  it('refuses dev mode off loopback, a short secret and an issuer over plain HTTP, saying what to set', () => {
    expect(problems({ REQFLOW_DEV_MODE: '1', HOST: '0.0.0.0' }).join()).toMatch(
      /HOST is "0.0.0.0". Set HOST=127.0.0.1/,
    );
    // The worker does not listen: only the secret concerns it.
    expect(problems({ REQFLOW_DEV_MODE: '1', HOST: '0.0.0.0' }, 'worker')).toEqual([]);
    expect(problems({}).join()).toMatch(/REQFLOW_SECRET must be set to at least 32 bytes .*it is unset/);
    expect(problems({ REQFLOW_SECRET: 'x'.repeat(31) }, 'worker').join()).toMatch(
      /at least 32 bytes .*it has 31/,
    );
    expect(
      problems({
        REQFLOW_SECRET: SECRET,
        OIDC_ISSUER: 'http://login.example.com',
        OIDC_AUDIENCE: 'a',
      }).join(),
    ).toMatch(/OIDC_ISSUER must use https:\/\//);
    expect(problems({ REQFLOW_SECRET: SECRET, OIDC_ISSUER: 'https://login.example.com' }).join()).toMatch(
      /OIDC_AUDIENCE must be set/,
    );
  });
});

/** Runs one of our entry points to its exit; a process still running after a minute has failed the test. */
async function runToExit(script: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script)], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

describe('processes refuse to start', () => {
  // Free ports throughout, so nothing could collide even if a check failed to fire.
  async function env(extra: Record<string, string>) {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'reqflow-refuse-')), 'data');
    return {
      dataDir,
      env: {
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        TEMPORAL_PORT: String(await freePort()),
        TEMPORAL_UI_PORT: String(await freePort()),
        ...extra,
      },
    };
  }

  it('npm start with HOST=0.0.0.0 in dev mode, before starting anything', async () => {
    const { dataDir, env: e } = await env({ HOST: '0.0.0.0' });
    const { code, output } = await runToExit('scripts/stack.ts', e);
    expect(code, output).not.toBe(0);
    expect(output).toMatch(/refusing to start:[\s\S]*HOST is "0.0.0.0". Set HOST=127.0.0.1/);
    expect(output).not.toMatch(/Temporal dev server/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('npm start outside dev mode with a short REQFLOW_SECRET', async () => {
    const { dataDir, env: e } = await env({ REQFLOW_DEV_MODE: '0', REQFLOW_SECRET: 'too-short' });
    const { code, output } = await runToExit('scripts/stack.ts', e);
    expect(code, output).not.toBe(0);
    expect(output).toMatch(/REQFLOW_SECRET must be set to at least 32 bytes outside dev mode \(it has 9\)/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('the API (server.ts) in dev mode off loopback, and outside dev mode with a short secret', async () => {
    const dev = await runToExit('server.ts', (await env({ REQFLOW_DEV_MODE: '1', HOST: '0.0.0.0' })).env);
    expect(dev.code, dev.output).not.toBe(0);
    expect(dev.output).toMatch(/HOST is "0.0.0.0". Set HOST=127.0.0.1/);
    const prod = await runToExit(
      'server.ts',
      (await env({ REQFLOW_DEV_MODE: '0', REQFLOW_SECRET: 'too-short' })).env,
    );
    expect(prod.code, prod.output).not.toBe(0);
    expect(prod.output).toMatch(/REQFLOW_SECRET must be set to at least 32 bytes/);
  });
});
