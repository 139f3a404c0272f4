/**
 * Finds (or, as a last resort, builds) the Temporal CLI binary that runs the embedded dev server
 * and `npm run temporal`. Resolution order, first hit wins:
 *   1. TEMPORAL_CLI_PATH
 *   2. `temporal` on PATH
 *   3. the cached build at `<cacheDir>/temporal-cli/v1.5.1/temporal`
 *   4. the Temporal SDK's own download (needs the internet; bounded by a short timeout)
 *   5. `go install` from source into the cache of step 3
 *
 * Run directly (`npx tsx scripts/temporal-cli.ts`) it prints the resolved path on stdout and
 * everything else on stderr, so `.ci/run` can prebuild before the tests start.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/**
 * Pinned on purpose: later releases (e.g. v1.9.1) carry `replace .../cliext => ./cliext` in their
 * go.mod, and `go install module@version` refuses any module with a replace directive. Bump only
 * after checking that `go install github.com/temporalio/cli/cmd/temporal@<new>` still works.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
const EXE = process.platform === 'win32' ? '.exe' : '';

/** A failed download must not hold up `npm start` for long: the build fallback is next anyway. */
const DEFAULT_DOWNLOAD_TIMEOUT_MS = 20_000;
const HEARTBEAT_MS = 20_000;
/** The holder touches its lock every LOCK_TOUCH_MS; a lock left untouched this long is abandoned. */
const LOCK_TOUCH_MS = 10_000;
const STALE_LOCK_MS = 6 * LOCK_TOUCH_MS;
const LOCK_POLL_MS = 1_000;

type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[temporal-cli] ${line}\n`);

/** Unset and empty mean the same: `TEMPORAL_CLI_PATH= npm test` must fall through the chain. */
function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function reqflowCacheDir(): string {
  const explicit = env('REQFLOW_CACHE_DIR');
  if (explicit) return path.resolve(explicit);
  return path.join(env('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'reqflow');
}

function cliCacheRoot(): string {
  return path.join(reqflowCacheDir(), 'temporal-cli');
}

/** Where a from-source build lands; only ever written by an atomic rename. */
export function temporalCliCachePath(): string {
  return path.join(cliCacheRoot(), TEMPORAL_CLI_VERSION, `temporal${EXE}`);
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromEnvVar(): string | undefined {
  const configured = env('TEMPORAL_CLI_PATH');
  if (!configured) return undefined;
  const file = path.resolve(configured);
  if (!isExecutableFile(file)) {
    throw new Error(
      `TEMPORAL_CLI_PATH is set to "${configured}", which is not an executable file. ` +
        'Point it at a Temporal CLI binary, or unset it to let reqflow find or build one.',
    );
  }
  return file;
}

function fromPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.resolve(dir, `temporal${EXE}`);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

function fromCache(): string | undefined {
  const file = temporalCliCachePath();
  return isExecutableFile(file) ? file : undefined;
}

// ---------------------------------------------------------------------------------------------
// Step 4: the SDK's download

function sdkDownloadDir(): string {
  return path.join(cliCacheRoot(), 'sdk-download');
}

function runsVersion(file: string): boolean {
  try {
    execFileSync(file, ['--version'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The SDK names its download after platform and version; any executable in our own dir is one.
 * Unlike our build it is not known to be written atomically, hence the trial run.
 */
function findSdkDownload(): string | undefined {
  const dir = sdkDownloadDir();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const candidates = names
    .filter((n) => n.startsWith('temporal') && !/\.(lock|tmp|part|tar\.gz|zip)$/.test(n))
    .map((n) => path.join(dir, n))
    .filter(isExecutableFile)
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return candidates.find(runsVersion);
}

/** TEMPORAL_DOWNLOAD_TIMEOUT_MS=0 skips the download attempt altogether. */
function downloadTimeoutMs(): number {
  const raw = env('TEMPORAL_DOWNLOAD_TIMEOUT_MS');
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_DOWNLOAD_TIMEOUT_MS;
}

/**
 * The SDK exposes its download only through starting a dev server, so start one and tear it
 * down. Offline this fails within a second (DNS); the timeout covers a network that hangs.
 */
async function trySdkDownload(log: Log): Promise<string | undefined> {
  const timeoutMs = downloadTimeoutMs();
  if (timeoutMs === 0) return undefined;
  fs.mkdirSync(sdkDownloadDir(), { recursive: true });
  // Loaded lazily: the native bridge costs time that the cached path should not pay.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const started = TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir: sdkDownloadDir() } },
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([started, timedOut]);
    if (outcome === 'timeout') {
      // A download that finishes late still starts a server: stop it whenever it comes up.
      started.then((e) => e.teardown()).catch(() => undefined);
      log(`Temporal CLI download did not finish within ${timeoutMs} ms; building from source instead.`);
      return undefined;
    }
    await outcome.teardown();
  } catch (err) {
    // The SDK's message nests four causes; the innermost two say what went wrong.
    const reason = (err instanceof Error ? err.message : String(err)).split(': ').slice(-2).join(': ');
    log(`Temporal CLI download not possible (${reason}); building from source instead.`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
  return findSdkDownload();
}

// ---------------------------------------------------------------------------------------------
// Step 5: build from source, one process at a time

function pidAlive(pid: number): boolean {
  // No pid yet: the holder is between creating the file and writing it.
  if (!Number.isInteger(pid)) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(lock: string): { pid: number; ageMs: number } | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
    return { pid, ageMs: Date.now() - fs.statSync(lock).mtimeMs };
  } catch {
    return undefined; // released between our open and our read
  }
}

/**
 * Cross-process mutex: `open(wx)` is atomic, the file holds the holder's pid, and the holder
 * touches it every heartbeat. A dead pid (Ctrl-C during a build) or an untouched lock (a holder
 * in another pid namespace that died) is stale and gets removed. Two waiters breaking the same
 * stale lock could still both build; the atomic rename keeps the result whole even then.
 */
async function withBuildLock<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(cliCacheRoot(), 'build.lock');
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const waitStart = Date.now();
  let lastNotice = 0;
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readLock(lock);
    if (holder && (!pidAlive(holder.pid) || holder.ageMs > STALE_LOCK_MS)) {
      log(`Removing stale build lock of pid ${holder.pid}.`);
      fs.rmSync(lock, { force: true });
      continue;
    }
    const waited = Date.now() - waitStart;
    if (holder && (lastNotice === 0 || waited - lastNotice >= HEARTBEAT_MS)) {
      lastNotice = Math.max(waited, 1);
      log(
        `Waiting for pid ${holder.pid}, which is building the Temporal CLI (${Math.round(waited / 1000)} s)...`,
      );
    }
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
  const toucher = setInterval(() => {
    const now = new Date();
    fs.utimes(lock, now, now, () => undefined); // best effort: a missed touch is not an error
  }, LOCK_TOUCH_MS);
  try {
    return await fn();
  } finally {
    clearInterval(toucher);
    if (readLock(lock)?.pid === process.pid) fs.rmSync(lock, { force: true });
  }
}

/**
 * `go` on PATH, else the official tarball's location: /usr/local/go/bin is often missing from
 * PATH in non-login shells and CI steps even where Go is installed.
 */
function findGo(): string | undefined {
  const name = `go${EXE}`;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutableFile(path.resolve(dir, name))) return path.resolve(dir, name);
  }
  const goroot = env('GOROOT');
  return [goroot && path.join(goroot, 'bin', name), path.join('/usr/local/go/bin', name)].find(
    (f): f is string => !!f && isExecutableFile(f),
  );
}

async function requireGo(): Promise<{ go: string; version: string }> {
  const go = findGo();
  if (!go) {
    throw new Error(
      'Cannot find a Temporal CLI and cannot build one: Go is not installed (no `go` on PATH or in ' +
        `/usr/local/go/bin). Install Go >= 1.25 (https://go.dev/dl/; the CLI ${TEMPORAL_CLI_VERSION} ` +
        'module requires it), or set TEMPORAL_CLI_PATH to a Temporal CLI binary.',
    );
  }
  const { stdout } = await promisify(execFile)(go, ['version'], { timeout: 30_000 });
  return { go, version: stdout.trim() };
}

/** Runs `go install` into a private GOBIN, streaming Go's progress lines and a heartbeat. */
async function goInstall(go: string, gobin: string, log: Log): Promise<void> {
  const started = Date.now();
  // Go is silent while compiling (most of the time): show that it is alive.
  const heartbeat = setInterval(() => {
    log(`still building Temporal CLI (${Math.round((Date.now() - started) / 1000)} s)...`);
  }, HEARTBEAT_MS);
  const stderrTail: string[] = [];
  try {
    const child = spawn(
      go,
      [
        'install',
        // -X: without it the binary reports version 0.0.0-DEV. -s -w: drops ~80 MB of debug info.
        `-ldflags=-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION.slice(1)}`,
        `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`,
      ],
      {
        cwd: gobin, // outside any go.mod / go.work of the user
        // CGO off: the CLI's SQLite is pure Go, and a fresh machine may have no C compiler.
        env: { ...process.env, GOBIN: gobin, GOWORK: 'off', CGO_ENABLED: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const forward = (line: string) => {
      stderrTail.push(line);
      if (stderrTail.length > 40) stderrTail.shift();
      log(`  ${line}`);
    };
    createInterface({ input: child.stdout }).on('line', forward);
    createInterface({ input: child.stderr }).on('line', forward);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) {
      throw new Error(
        `go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed (exit ${code}):\n${stderrTail.join('\n')}`,
      );
    }
  } finally {
    clearInterval(heartbeat);
  }
}

/** Steps 4 and 5, under the lock so that parallel test workers download or build only once. */
async function downloadOrBuild(log: Log): Promise<string> {
  return withBuildLock(log, async () => {
    // Another process may have finished while we waited for the lock.
    const ready = fromCache() ?? findSdkDownload();
    if (ready) return ready;
    const downloaded = await trySdkDownload(log);
    if (downloaded) return downloaded;
    const { go, version } = await requireGo();

    const root = cliCacheRoot();
    // Leftovers of builds that were killed; safe to remove while we hold the lock.
    for (const name of fs.readdirSync(root)) {
      if (name.startsWith('build-')) fs.rmSync(path.join(root, name), { recursive: true, force: true });
    }
    const gobin = fs.mkdtempSync(path.join(root, 'build-'));
    const target = temporalCliCachePath();
    log(
      `Building Temporal CLI ${TEMPORAL_CLI_VERSION} from source with ${version}; this takes a few minutes ` +
        `the first time. Build dir: ${gobin}; result: ${target}`,
    );
    const started = Date.now();
    try {
      await goInstall(go, gobin, log);
      const built = path.join(gobin, `temporal${EXE}`);
      await promisify(execFile)(built, ['--version'], { timeout: 30_000 });
      fs.mkdirSync(path.dirname(target), { recursive: true });
      // Same filesystem (both under the cache root), so readers see no binary or a whole one.
      fs.renameSync(built, target);
    } finally {
      fs.rmSync(gobin, { recursive: true, force: true });
    }
    log(`Built Temporal CLI in ${Math.round((Date.now() - started) / 1000)} s.`);
    return target;
  });
}

/** Callers in one process share one download/build: the lock file holds a pid, so cannot tell them apart. */
let inFlight: Promise<string> | undefined;

/** Returns an absolute path to a working `temporal` binary; may download or build one. */
export async function resolveTemporalCli(opts?: { log?: (line: string) => void }): Promise<string> {
  const quick = fromEnvVar() ?? fromPath() ?? fromCache() ?? findSdkDownload();
  if (quick) return quick;
  inFlight ??= downloadOrBuild(opts?.log ?? defaultLog).finally(() => {
    inFlight = undefined;
  });
  return inFlight;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  resolveTemporalCli()
    .then((cli) => {
      process.stdout.write(`${cli}\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`[temporal-cli] ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
