/**
 * A throwaway PostgreSQL cluster for tests and CI: `initdb` into a temporary folder, a server
 * on a free loopback port, and a DATABASE_URL for it; stopped and removed on `stop()` or
 * when the process exits. `npx tsx scripts/postgres.ts` prints the URL and keeps the cluster
 * until Ctrl-C.
 *
 * The cluster uses the C locale, so text sorts byte by byte as SQLite sorts it (the code
 * orders ISO-8601 timestamps and ids as text), and trusts every connection: it listens on
 * 127.0.0.1 only, and its socket is in its own folder. Durability is off (fsync,
 * synchronous_commit): a crash loses a throwaway cluster anyway, and tests run faster.
 */
import { execFileSync, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from './dev-server.js';

export interface PostgresServer {
  /** postgresql://…/postgres: the cluster's default database, as its superuser. */
  url: string;
  /** Creates an empty database and returns its URL (a test's own, isolated database). */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes its folder. */
  stop(): void;
}

const HOST = '127.0.0.1';
const SUPERUSER = 'reqflow';
const NEEDED = ['initdb', 'pg_ctl'];

/**
 * The folder holding initdb and pg_ctl: Debian keeps them off PATH, in
 * /usr/lib/postgresql/<major>/bin (the newest major wins); elsewhere they are on PATH.
 */
export function findPostgresBin(): string | undefined {
  const debian = '/usr/lib/postgresql';
  const majors = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => join(debian, v, 'bin'))
    : [];
  const path = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return [...majors, ...path].find((dir) => NEEDED.every((tool) => existsSync(join(dir, tool))));
}

/** PostgreSQL refuses to run as root: then the cluster belongs to, and runs as, `postgres`. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'running as root, and there is no `postgres` user to run PostgreSQL as (PostgreSQL refuses root)',
    );
  }
}

function run(bin: string, tool: string, args: string[], options: SpawnSyncOptions): void {
  const result = spawnSync(join(bin, tool), args, { ...options, encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const output = `${String(result.stdout)}${String(result.stderr)}`.trim();
    throw new Error(`${tool} ${args.join(' ')} exited with ${result.status ?? result.signal}\n${output}`);
  }
}

export async function startPostgres(opts: { log?: (line: string) => void } = {}): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error(
      'no PostgreSQL binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH: install PostgreSQL (Debian: apt-get install postgresql)',
    );
  }
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'reqflow-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  if (user) chownSync(dir, user.uid, user.gid);
  // Only PATH and the locale: the caller's PG* variables (PGDATA, PGPORT) must not steer these tools.
  const options: SpawnSyncOptions = {
    env: { PATH: process.env.PATH ?? '', LC_ALL: 'C' },
    cwd: dir,
    ...(user ?? {}),
  };
  let started = false;
  const stop = () => {
    process.off('exit', stop);
    if (started) {
      started = false;
      try {
        run(bin, 'pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w'], options);
      } catch {
        // already gone: nothing left to stop
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);

  try {
    run(
      bin,
      'initdb',
      [
        '-D',
        data,
        '-U',
        SUPERUSER,
        '--auth=trust',
        '--locale=C',
        '--encoding=UTF8',
        '--no-sync',
        '--no-instructions',
      ],
      options,
    );
    // Replaces initdb's file: the socket in the cluster's folder, and TCP from loopback only.
    writeFileSync(join(data, 'pg_hba.conf'), `local all all trust\nhost all all ${HOST}/32 trust\n`);
    const port = await freePort();
    const settings = [
      `listen_addresses=${HOST}`,
      `port=${port}`,
      `unix_socket_directories=${dir}`,
      'fsync=off',
      'synchronous_commit=off',
      'full_page_writes=off',
      'max_connections=200',
    ].map((s) => `-c ${s}`);
    run(
      bin,
      'pg_ctl',
      ['start', '-D', data, '-l', logFile, '-w', '-t', '60', '-o', settings.join(' ')],
      options,
    );
    started = true;
    const url = `postgresql://${SUPERUSER}@${HOST}:${port}/postgres`;
    opts.log?.(`PostgreSQL (${bin}) ready at ${url}`);
    return {
      url,
      stop,
      async createDatabase(name: string) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`create database ${name}`);
        } finally {
          await client.end();
        }
        return `postgresql://${SUPERUSER}@${HOST}:${port}/${name}`;
      },
    };
  } catch (err) {
    const serverLog = existsSync(logFile)
      ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-20).join('\n')
      : '';
    stop();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `could not start PostgreSQL: ${reason}${serverLog ? `\n--- server log (tail) ---\n${serverLog}` : ''}`,
    );
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const server = await startPostgres({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`DATABASE_URL=${server.url}\n`);
  const done = () => {
    server.stop();
    process.exit(0);
  };
  process.once('SIGINT', done);
  process.once('SIGTERM', done);
  // Keeps the process (and so the cluster) alive until a signal.
  setInterval(() => undefined, 1 << 30);
}
