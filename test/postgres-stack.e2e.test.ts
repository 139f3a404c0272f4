import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../runtime/config.js';
import { findPostgresBin, startPostgres, type PostgresServer } from '../scripts/postgres.js';
import { startNpmStart, type NpmStart } from './helpers/npm-start.js';

// The whole stack (`npm start`: worker, API, device agent) on PostgreSQL instead of SQLite,
// requests of three types end to end over HTTP. CI installs PostgreSQL, so the skip below
// only happens on a machine without it.
const bin = findPostgresBin();
const title = bin
  ? 'npm start on PostgreSQL'
  : 'npm start on PostgreSQL (SKIPPED: no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH; install postgresql)';

interface View {
  id: string;
  status: string;
  waitingOn: unknown;
  outcome?: { message?: string } | null;
}

let server: PostgresServer;
let databaseUrl: string;
let stack: NpmStart;

async function call<T>(
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function login(userId: string): Promise<string> {
  const res = await call<{ token: string }>('POST', '/api/dev/login', undefined, { userId });
  expect(res.status).toBe(200);
  return res.body.token;
}

async function waitFor(
  token: string,
  id: string,
  ok: (v: View) => boolean,
  timeoutMs = 90_000,
): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  let last: View | undefined;
  while (Date.now() < deadline) {
    last = (await call<View>('GET', `/api/requests/${id}`, token)).body;
    if (ok(last)) return last;
    await sleep(200);
  }
  throw new Error(
    `${id} did not get there: last ${JSON.stringify(last)}\n${stack.output.slice(-40).join('\n')}`,
  );
}

async function count(table: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe.skipIf(!bin)(title, () => {
  beforeAll(async () => {
    server = await startPostgres();
    databaseUrl = await server.createDatabase('stack');
    stack = await startNpmStart({ DATABASE_URL: databaseUrl });
  }, 240_000);

  afterAll(async () => {
    if (stack && (await Promise.race([stack.stop(), sleep(30_000).then(() => 'slow')])) === 'slow')
      await stack.kill();
    server?.stop();
  }, 60_000);

  it('keeps its state in PostgreSQL: no SQLite app database is created', async () => {
    expect(existsSync(join(stack.dataDir, 'reqflow.db'))).toBe(false);
    // Seeded through the directory, the catalog applied from its files, the laptop enrolled.
    expect(await count('users')).toBeGreaterThanOrEqual(6);
    expect(await count('catalog_items')).toBeGreaterThan(0);
    expect(await count('devices')).toBeGreaterThan(0);
  });

  it('installs Visio on the laptop through the real agent, and the CMDB shows it', async () => {
    const alice = await login('alice');
    const submitted = await call<View>('POST', '/api/requests', alice, {
      catalogItemId: 'visio',
      deviceId: 'LAPTOP-ALICE',
      justification: 'Architecture diagrams',
    });
    expect(submitted.status).toBe(202);
    const done = await waitFor(alice, submitted.body.id, (v) => v.status === 'fulfilled');
    expect(done.status).toBe('fulfilled');
    const device = await call<{ installedSoftware: { ciId: string; requestId: string }[] }>(
      'GET',
      '/api/cmdb/devices/LAPTOP-ALICE',
      alice,
    );
    expect(device.body.installedSoftware).toContainEqual(
      expect.objectContaining({ ciId: 'SW-LAPTOP-ALICE-visio', requestId: submitted.body.id }),
    );
    expect(existsSync(join(stack.dataDir, 'devices', 'LAPTOP-ALICE', 'root'))).toBe(true);
  });

  it('grants access once the manager approves, and answers a question from the knowledge base', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    const asked = await call<View>('POST', '/api/requests', alice, {
      catalogItemId: 'financial-reporting',
      justification: 'Quarter close',
    });
    expect(asked.status).toBe(202);
    await waitFor(alice, asked.body.id, (v) => v.status === 'awaiting_approval' && v.waitingOn !== null);
    const decided = await call<View>('POST', `/api/requests/${asked.body.id}/approvals`, bob, {
      decision: 'approve',
      comment: 'ok',
    });
    expect(decided.status).toBeLessThan(300);
    await waitFor(alice, asked.body.id, (v) => v.status === 'fulfilled');

    const carol = await login('carol');
    const question = await call<View>('POST', '/api/requests', carol, {
      catalogItemId: 'vpn-address',
      fields: { question: 'What is the VPN address?' },
    });
    const answered = await waitFor(carol, question.body.id, (v) => v.status === 'fulfilled');
    expect(answered.outcome?.message).toMatch(/vpn\.example\.com/);
  });

  it('keeps an audit chain that verifies on PostgreSQL', async () => {
    expect(await count('audit_log')).toBeGreaterThan(0);
    const verify = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'scripts/audit-verify.ts')],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATA_DIR: stack.dataDir,
          DATABASE_URL: databaseUrl,
        },
        encoding: 'utf8',
      },
    );
    expect(verify.stdout).toMatch(/^audit log OK: \d+ entries/m);
    expect(verify.status).toBe(0);
  });
});
