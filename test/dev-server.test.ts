import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
// Default import: the package is CommonJS, and Node's ESM loader cannot see its named exports.
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEV_SERVER_SEARCH_ATTRIBUTES, freePort, startDevServer } from '../scripts/dev-server.js';

const KEYWORD = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

async function customSearchAttributes(address: string) {
  const connection = await Connection.connect({ address });
  try {
    const res = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return res.customAttributes ?? {};
  } finally {
    await connection.close();
  }
}

describe('shared dev server (global setup)', () => {
  it('registers the reqflow search attributes (WaitingOn as a keyword list)', async () => {
    const attributes = await customSearchAttributes(inject('temporalAddress'));
    for (const name of ['RequestType', 'RequestStatus', 'CatalogItem', 'Requester']) {
      expect(attributes[name], name).toBe(KEYWORD);
    }
    expect(attributes.WaitingOn).toBe(
      proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    );
  });
});

describe('startDevServer with a database file', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reqflow-dev-server-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps its state in WAL mode and stops on request', async () => {
    const dbFile = path.join(dir, 'temporal.db');
    const server = await startDevServer({ cliPath: inject('temporalCliPath'), dbFile, uiPort: null });
    try {
      const attributes = await customSearchAttributes(server.address);
      expect(Object.keys(attributes)).toEqual(expect.arrayContaining([...DEV_SERVER_SEARCH_ATTRIBUTES]));
      // The -wal file exists only in WAL mode.
      expect(fs.existsSync(`${dbFile}-wal`)).toBe(true);
    } finally {
      await server.stop();
    }
    expect(server.process.exitCode ?? server.process.signalCode).not.toBeNull();
  });

  it('adds the attributes a newer reqflow needs to a database made by an older one', async () => {
    const dbFile = path.join(dir, 'older.db');
    const port = await freePort();
    // The dev server as an earlier reqflow started it: four attributes, no WaitingOn.
    const older = spawn(
      inject('temporalCliPath'),
      [
        'server',
        'start-dev',
        '--headless',
        '--port',
        String(port),
        '--db-filename',
        dbFile,
        ...['RequestType', 'RequestStatus', 'CatalogItem', 'Requester'].flatMap((n) => [
          '--search-attribute',
          `${n}=Keyword`,
        ]),
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => older.once('exit', resolve));
    try {
      for (let i = 0; ; i++) {
        const names = await customSearchAttributes(`127.0.0.1:${port}`).then(
          (a) => Object.keys(a),
          (): string[] => [],
        );
        if (names.includes('Requester')) break;
        if (i > 150) throw new Error('the older dev server did not come up');
        await sleep(200);
      }
    } finally {
      older.kill('SIGTERM');
      await exited;
    }
    const server = await startDevServer({ cliPath: inject('temporalCliPath'), dbFile, uiPort: null });
    try {
      const attributes = await customSearchAttributes(server.address);
      expect(attributes.WaitingOn).toBe(
        proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
      );
    } finally {
      await server.stop();
    }
  });

  it('refuses a port that is already taken', async () => {
    const port = Number(inject('temporalAddress').split(':')[1]);
    await expect(startDevServer({ cliPath: inject('temporalCliPath'), port, uiPort: null })).rejects.toThrow(
      /already in use/,
    );
  });

  it('reports a server that exits before it is ready, with its stderr', async () => {
    // Stands in for a CLI that fails at start (bad flag, broken database file).
    const cliPath = path.join(dir, 'fake-temporal');
    fs.writeFileSync(cliPath, '#!/bin/sh\necho "boom: $*" >&2\nexit 3\n', { mode: 0o755 });
    await expect(startDevServer({ cliPath, uiPort: null })).rejects.toThrow(
      /exited with 3 before it was ready[\s\S]*boom: server start-dev/,
    );
  });
});
