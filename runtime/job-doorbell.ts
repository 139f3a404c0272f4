/**
 * Wakes a device's held long poll (GET /api/agent/jobs) the moment the worker queues a job
 * for it. The worker and the API are separate processes sharing one SQLite file; this is the
 * signal beside it: the worker writes a file named for the device into a folder next to the
 * database, and the API, watching that folder (inotify on Linux, FSEvents on macOS), wakes
 * the poll in-process at once. Processes that share no folder (workers on other machines)
 * never ring; the poll then finds the job on its own periodic read, a second later at most.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

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

/** The API's side: one watcher on the folder, one in-process event per ringing device. */
export function watchJobDoorbell(dir: string): JobDoorbell {
  const rung = new EventEmitter();
  // Every held poll listens; thousands of devices may wait at once.
  rung.setMaxListeners(0);
  let watcher: FSWatcher | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    watcher = watch(dir, (_event, file) => {
      if (file) rung.emit(decodeURIComponent(file.toString()));
    });
    // A folder that goes away (a test's temporary directory) ends the watch, not the API.
    watcher.on('error', () => watcher?.close());
    watcher.unref();
  } catch {
    watcher = undefined;
  }
  return {
    wait(deviceId, ms, signal) {
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          rung.off(deviceId, done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        rung.on(deviceId, done);
        signal.addEventListener('abort', done, { once: true });
      });
    },
    close() {
      watcher?.close();
    },
  };
}
