/**
 * Runs the Temporal CLI's dev server (`temporal server start-dev`) as a child process: the
 * embedded Temporal of `npm start` (with a SQLite file) and of the test run (in memory).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from '../domain/temporal.js';
import { ensureSearchAttributes, searchAttributeState } from '../runtime/temporal-namespace.js';

export interface DevServerOptions {
  cliPath: string;
  /** gRPC frontend port; 0 or undefined picks a free one. */
  port?: number;
  /** Web UI port; 0 or undefined picks a free one, null runs headless. */
  uiPort?: number | null;
  /** SQLite file for durable state; undefined keeps everything in memory. */
  dbFile?: string;
  log?: (line: string) => void;
  /**
   * Run the server in a process group of its own, so a terminal's Ctrl-C reaches only the
   * caller, which stops the server last (after the workers that still talk to it).
   */
  ownProcessGroup?: boolean;
  /**
   * False starts a server as a Temporal installation comes: without reqflow's search
   * attributes (what `npm run temporal:setup` is for). Default true.
   */
  searchAttributes?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  stop(): Promise<void>;
  process: ChildProcess;
  /** Resolves when the server process is gone, whether stopped or not (a crash, `kill -9`). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const HOST = '127.0.0.1';
const NAMESPACE = 'default';
/** The search attributes operators filter on; registered at start so that workflows can upsert them from their first task. */
export const DEV_SERVER_SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name);

/** The CLI's name for each attribute type. */
const CLI_TYPE = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' } as const;
const cliType = (type: string): string => {
  if (type !== 'KEYWORD' && type !== 'KEYWORD_LIST')
    throw new Error(`unexpected search attribute type ${type}`);
  return CLI_TYPE[type];
};

/** Cold start with a large SQLite file takes a few seconds; a minute means it is stuck. */
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 250;
const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_LINES = 30;

const FREE_PORT_LOW = 10_000;

/**
 * The first port of the kernel's ephemeral range (Linux's default where it cannot be read).
 * Every program that binds port 0 gets a port from that range, and so does every outgoing
 * connection.
 */
function ephemeralRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > FREE_PORT_LOW + 1000) return low;
  } catch {
    // not Linux
  }
  return 32768;
}

/** Ports this process handed out: a port we picked but have not bound yet still binds here. */
const handedOut = new Set<number>();

async function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/**
 * A free loopback port for a server that a child process binds later. Not from bind(0):
 * on a shared machine (a CI host running other jobs' servers) a port released by the probe
 * went to another job's bind(0) before our child bound it, and our client then talked to a
 * stranger. So: a random port below the ephemeral range, where nothing lands by chance, that
 * binds now and that this process has not handed out before.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralRangeStart();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = FREE_PORT_LOW + Math.floor(Math.random() * (high - FREE_PORT_LOW));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${FREE_PORT_LOW} and ${high} on ${HOST}`);
}

function startDevArgs(
  port: number,
  uiPort: number | null,
  dbFile: string | undefined,
  searchAttributes: boolean,
): string[] {
  const args = ['server', 'start-dev', '--ip', HOST, '--port', String(port)];
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (dbFile !== undefined) {
    // Without WAL and relaxed syncs the server's single SQLite connection manages a few workflows a second.
    args.push(
      '--db-filename',
      dbFile,
      '--sqlite-pragma',
      'journal_mode=WAL',
      '--sqlite-pragma',
      'synchronous=NORMAL',
    );
  }
  args.push('--log-level', 'warn');
  // Eager activities: an activity a workflow task schedules (recordChange, prepareDeployment on
  // the standard path) comes back to the worker in the answer to that task's completion,
  // instead of through the matching service to the next activity poll: one hop less per step.
  // Off by default on the server; a cluster of your own turns it on the same way (README).
  args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  if (searchAttributes) {
    for (const key of SEARCH_ATTRIBUTE_KEYS)
      args.push('--search-attribute', `${key.name}=${cliType(key.type)}`);
  }
  args.push('--namespace', NAMESPACE);
  return args;
}

/**
 * The server itself exits at once on a taken port, but a probe could reach whoever holds the
 * port and take that for our server: so refuse up front, with a message that names the port.
 */
async function assertPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `Port ${HOST}:${port} is already in use (another Temporal dev server?); stop it or pick another port.`
            : `Cannot bind ${HOST}:${port}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, HOST, () => server.close(() => resolve()));
  });
}

/**
 * Ready means: the frontend answers and (unless started bare) our search attributes are
 * registered on the namespace.
 */
async function probe(connection: Connection, searchAttributes: boolean): Promise<void> {
  await connection.withDeadline(Date.now() + 2_000, async () => {
    await connection.workflowService.getSystemInfo({});
    if (!searchAttributes) {
      await connection.workflowService.describeNamespace({ namespace: NAMESPACE });
      return;
    }
    const { missing, wrongType } = await searchAttributeState(connection, NAMESPACE);
    if (missing.length + wrongType.length > 0) {
      // The CLI registers its --search-attribute flags only when it creates the database: a
      // data directory from an earlier reqflow lacks the attributes added since (WaitingOn).
      // Only then (the older ones are there) do we add them, never while the CLI is still
      // registering its own on a new database.
      if (!missing.includes('RequestType')) await ensureSearchAttributes(connection, NAMESPACE);
      throw new Error(`search attributes not registered yet: ${[...missing, ...wrongType].join(', ')}`);
    }
  });
}

/** Polls until `probe` passes; fails as soon as the child is gone (`exitReason` says why). */
async function waitUntilReady(
  address: string,
  searchAttributes: boolean,
  exited: Promise<void>,
  exitReason: () => string | undefined,
): Promise<void> {
  const connection = Connection.lazy({
    address,
    // grpc-js backs off up to minutes between reconnects by default; the server is seconds away.
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 500 },
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let probing: Promise<unknown> = Promise.resolve();
  try {
    for (;;) {
      const gone = exitReason();
      if (gone) throw new Error(gone);
      try {
        // A probe retries inside its 2 s deadline; a server that dies meanwhile should not wait it out.
        const attempt = probe(connection, searchAttributes);
        probing = attempt.catch(() => undefined);
        await Promise.race([attempt, exited]);
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`did not answer within ${READY_TIMEOUT_MS / 1000} s: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, READY_POLL_MS));
        continue;
      }
      // Gone by now: whoever answered on that port was not our server.
      const goneMeanwhile = exitReason();
      if (goneMeanwhile) throw new Error(goneMeanwhile);
      return;
    }
  } finally {
    // A probe that lost the race to the server's exit still retries until its deadline; a
    // channel closed under it throws from the retry's timer, an uncaught exception.
    await Promise.race([probing, new Promise((r) => setTimeout(r, 5_000))]);
    await connection.close();
  }
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? (() => undefined);
  const port = opts.port || (await freePort());
  const uiPort = opts.uiPort === null ? null : opts.uiPort || (await freePort());
  const address = `${HOST}:${port}`;
  await assertPortFree(port);
  if (uiPort !== null) await assertPortFree(uiPort);

  const child = spawn(
    opts.cliPath,
    startDevArgs(port, uiPort, opts.dbFile, opts.searchAttributes !== false),
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.ownProcessGroup === true,
    },
  );
  // If this process exits without stop() (a crash, process.exit), do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  // A server that died on its own (kill -9) needs no killing, and a restarted one adds its own.
  child.once('exit', () => process.off('exit', killOnExit));

  let stopping = false;
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    // Shutdown always logs a burst of dial errors from its own internal workers: not news.
    if (!stopping) log(`temporal: ${line}`);
  });
  // stdout carries only the banner; drained so the pipe never fills.
  child.stdout.resume();

  let spawnError: Error | undefined;
  // 'close', not 'exit': by then the stderr tail is complete for the error message. A binary
  // that cannot be spawned emits 'error' and maybe nothing else.
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    process.off('exit', killOnExit);
  };

  const exitReason = () => {
    if (spawnError) return spawnError.message;
    if (child.exitCode === null && child.signalCode === null) return undefined;
    return `exited with ${child.exitCode ?? child.signalCode} before it was ready`;
  };
  try {
    await waitUntilReady(address, opts.searchAttributes !== false, exited, exitReason);
  } catch (err) {
    await stop();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `Temporal dev server (${opts.cliPath}) at ${address} ${reason}\n--- server stderr (tail) ---\n${stderrTail.join('\n')}`,
    );
  }

  const uiUrl = uiPort === null ? undefined : `http://${HOST}:${uiPort}`;
  log(`Temporal dev server ready at ${address}${uiUrl ? `, Web UI ${uiUrl}` : ''}`);
  const gone = exited.then(() => ({ code: child.exitCode, signal: child.signalCode }));
  return { address, ...(uiUrl ? { uiUrl } : {}), stop, process: child, exited: gone };
}
