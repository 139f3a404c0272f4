import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ApiUnavailableError, detailOf, request } from './client.js';
import {
  AgentConfigError,
  agentDataDir,
  apiUrl,
  isDeviceId,
  loadAgentConfig,
  parseAgentArgs,
  USAGE,
  type AgentConfig,
} from './config.js';

/** Registration did not happen; the message says why and what to do. */
export class EnrollmentError extends AgentConfigError {}

/** Registration writes one row and answers: a slow answer means something is wrong, not busy. */
const ENROLL_TIMEOUT_MS = 30_000;

interface Registered {
  deviceId: string;
  token: string;
  ownerId: string;
}

/**
 * `agent enroll`: registers this machine with an enrollment token, stores the device
 * token it gets, and returns the same configuration `--device <id>` would load, so the
 * agent goes on exactly as a started one.
 */
export async function enrollAgent(argv: string[], env: NodeJS.ProcessEnv): Promise<AgentConfig | 'help'> {
  const values = parseAgentArgs(argv, { token: { type: 'string' } });
  if (values.help) return 'help';

  const enrollmentToken = values.token || env.REQFLOW_ENROLLMENT_TOKEN?.trim();
  if (!enrollmentToken) {
    throw new AgentConfigError(
      `enroll needs --token (or REQFLOW_ENROLLMENT_TOKEN) from an operator\n${USAGE}`,
    );
  }
  const api = apiUrl(values.api, env);
  const registered = await register(api, enrollmentToken, {
    hostname: hostname(),
    platform: process.platform,
    ...(values.device ? { deviceId: values.device } : {}),
  });

  const { deviceId } = registered;
  const ownDir = values['token-file'] === undefined;
  const tokenFile = resolve(
    values['token-file'] ?? join(agentDataDir(env), 'devices', deviceId, 'agent.token'),
  );
  try {
    await writeOwnerOnly(tokenFile, `${registered.token}\n`, ownDir);
  } catch (err) {
    // The enrollment token is spent: without this file the device needs a new one.
    throw new EnrollmentError(
      `enrolled as ${deviceId}, but could not store its device token in ${tokenFile} ` +
        `(${(err as Error).message}); ask an operator to unenroll ${deviceId} and issue a new enrollment token`,
    );
  }
  console.log(`enrolled device ${deviceId} for ${registered.ownerId}; device token stored in ${tokenFile}`);

  // The device token just received must win over any REQFLOW_DEVICE_TOKEN left in the environment.
  const { REQFLOW_DEVICE_TOKEN: _ignored, ...rest } = env;
  const config = await loadAgentConfig(
    [
      '--device',
      deviceId,
      '--api',
      api,
      '--token-file',
      tokenFile,
      ...(values.root ? ['--root', values.root] : []),
    ],
    rest,
  );
  if (config === 'help') throw new Error('unreachable: no --help was passed');
  return config;
}

async function register(
  api: string,
  enrollmentToken: string,
  body: { hostname: string; platform: string; deviceId?: string },
): Promise<Registered> {
  let res: Response;
  try {
    res = await request(
      `${api}/api/devices/enroll`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${enrollmentToken}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
      },
      ENROLL_TIMEOUT_MS,
    );
  } catch (err) {
    if (!(err instanceof ApiUnavailableError)) throw err;
    // Not retried: had the API registered us and the answer got lost, a retry would only meet 409.
    throw new EnrollmentError(`could not reach the API at ${api} to enroll (${err.message})`);
  }
  if (res.status !== 201) {
    const why = await detailOf(res);
    throw new EnrollmentError(`the API refused the enrollment (HTTP ${res.status}): ${why}`);
  }
  const answer = (await res.json().catch(() => null)) as Partial<Registered> | null;
  if (
    !answer ||
    typeof answer.deviceId !== 'string' ||
    !isDeviceId(answer.deviceId) ||
    typeof answer.token !== 'string' ||
    answer.token === '' ||
    typeof answer.ownerId !== 'string'
  ) {
    throw new EnrollmentError(`the API's enrollment answer is not what this agent understands`);
  }
  return answer as Registered;
}

/**
 * File 0600 whatever the umask, written whole so nobody reads half a token. Directories it
 * creates are 0700; an existing one is tightened only when it is the device's own
 * (DATA_DIR/devices/<id>), never a folder someone named with --token-file.
 */
async function writeOwnerOnly(file: string, content: string, ownDir: boolean): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  if (ownDir) await chmod(dirname(file), 0o700);
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, content, { mode: 0o600 });
  await chmod(partial, 0o600);
  await rename(partial, file);
}
