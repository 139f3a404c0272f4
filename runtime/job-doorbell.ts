/**
 * Wakes a device's held long poll (GET /api/agent/jobs) the moment the worker queues a job
 * for it. Two signals, one per database:
 *
 * - SQLite: the worker and the API are separate processes sharing one file on one machine;
 *   the worker writes a file named for the device into a folder next to the database, and
 *   the API, watching that folder (inotify on Linux, FSEvents on macOS), wakes the poll
 *   in-process at once.
 * - PostgreSQL: workers and API nodes may be on different machines. Queueing a job notifies
 *   `reqflow_device_jobs` with the device id in the transaction that inserts it (so the
 *   signal leaves at commit, never for a job that was rolled back); each API node holds one
 *   connection LISTENing on it, whichever node the device's poll is held by.
 *
 * A missed signal (a folder not shared, a listening connection being re-made) costs a
 * second: the poll re-reads the jobs table periodically anyway.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

/** The PostgreSQL channel a queued job is announced on; the payload is the device id. */
export const DEVICE_JOBS_CHANNEL = 'reqflow_device_jobs';

/** The folder beside the database file that both sides use. */
export function jobDoorbellDir(databaseFile: string): string {
  return `${databaseFile}-jobs-queued`;
}

const fileOf = (deviceId: string) => encodeURIComponent(deviceId);

/** The worker's side: says that a job for the device was committed. Never throws: the poll's read is the fallback. */
export function jobDoorbellRinger(dir: string): (deviceId: string) => void {
  let ready = false;
  return (deviceId) => {
    try {
      if (!ready) mkdirSync(dir, { recursive: true });
      ready = true;
      writeFileSync(join(dir, fileOf(deviceId)), new Date().toISOString());
    } catch {
      ready = false;
    }
  };
}

export interface JobDoorbell {
  /** Resolves when a job for the device is rung, or after `ms`, or when `signal` aborts. */
  wait(deviceId: string, ms: number, signal: AbortSignal): Promise<void>;
  close(): void;
}

/** Held polls, by device: what both doorbells ring. */
function pollsByDevice() {
  const rung = new EventEmitter();
  // Every held poll listens; thousands of devices may wait at once.
  rung.setMaxListeners(0);
  return {
    ring: (deviceId: string) => rung.emit(deviceId),
    /** Every device with a held poll (after a gap in which signals may have been missed). */
    ringAll: () => {
      for (const deviceId of rung.eventNames()) rung.emit(deviceId);
    },
    wait: (deviceId: string, ms: number, signal: AbortSignal): Promise<void> =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          rung.off(deviceId, done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        rung.on(deviceId, done);
        signal.addEventListener('abort', done, { once: true });
      }),
  };
}

/** The API's side on SQLite: one watcher on the folder, one in-process event per ringing device. */
export function watchJobDoorbell(dir: string): JobDoorbell {
  const polls = pollsByDevice();
  let watcher: FSWatcher | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    watcher = watch(dir, (_event, file) => {
      if (file) polls.ring(decodeURIComponent(file.toString()));
    });
    // A folder that goes away (a test's temporary directory) ends the watch, not the API.
    watcher.on('error', () => watcher?.close());
    watcher.unref();
  } catch {
    watcher = undefined;
  }
  return {
    wait: polls.wait,
    close() {
      watcher?.close();
    },
  };
}

export interface ListenOptions {
  log: (line: string) => void;
  /** Longest pause between two attempts to re-make the listening connection. */
  maxBackoffMs?: number;
}

/**
 * The API's side on PostgreSQL: one dedicated connection (not the pool's: a pooled
 * connection is handed to queries, and LISTEN belongs to a session) LISTENing on
 * DEVICE_JOBS_CHANNEL. When it drops (a database restart, a failover, an idle connection
 * cut by a proxy) it is made again with a doubling pause; once it listens again every held
 * poll is woken to re-read, since a job may have been announced while nobody listened.
 */
export function listenJobDoorbell(url: string, options: ListenOptions): JobDoorbell {
  const { log } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const polls = pollsByDevice();
  let client: pg.Client | undefined;
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  function again(reason: string): void {
    if (closed || retry) return;
    const delay = Math.min(maxBackoffMs, 250 * 2 ** failures++);
    log(`job doorbell: not listening (${reason}); again in ${delay} ms`);
    retry = setTimeout(() => {
      retry = undefined;
      void listen();
    }, delay);
    retry.unref();
  }

  async function listen(): Promise<void> {
    const next = new pg.Client({ connectionString: url });
    let lost = false;
    const drop = (reason: string) => {
      if (lost) return;
      lost = true;
      if (client === next) client = undefined;
      next.end().catch(() => {});
      again(reason);
    };
    next.on('notification', (message) => {
      if (message.channel === DEVICE_JOBS_CHANNEL && message.payload) polls.ring(message.payload);
    });
    next.on('error', (err) => drop(err.message));
    next.on('end', () => drop('connection ended'));
    try {
      await next.connect();
      await next.query(`LISTEN ${DEVICE_JOBS_CHANNEL}`);
    } catch (err) {
      drop(err instanceof Error ? err.message : String(err));
      return;
    }
    if (closed || lost) {
      if (!lost) await next.end().catch(() => {});
      return;
    }
    client = next;
    if (failures > 0) log('job doorbell: listening again');
    failures = 0;
    polls.ringAll();
  }

  void listen();
  return {
    wait: polls.wait,
    close() {
      closed = true;
      if (retry) clearTimeout(retry);
      retry = undefined;
      void client?.end().catch(() => {});
      client = undefined;
    },
  };
}
