import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface AgentConfig {
  deviceId: string;
  api: string;
  token: string;
  /** The install root: where packages land and every script's working directory. */
  root: string;
}

/** A mistake in how the agent was started; the message tells the operator what to fix. */
export class AgentConfigError extends Error {}

export const USAGE = `usage: npm run agent -- --device <DEVICE-ID> [--api URL] [--token-file PATH] [--root PATH]
       npm run agent -- enroll --token <ENROLLMENT-TOKEN> [--api URL] [--device ID] [--token-file PATH] [--root PATH]

  --device      the device this agent acts for, e.g. LAPTOP-ALICE
  --api         reqflow API (default: $REQFLOW_API_URL, else http://127.0.0.1:$PORT or :3000)
  --token-file  file holding the device token (default: $DATA_DIR/devices/<device>/agent.token);
                $REQFLOW_DEVICE_TOKEN, when set, wins over the file
  --root        install root (default: $DATA_DIR/devices/<device>/root)

enroll registers this machine with a single-use enrollment token from an operator
(--token, or $REQFLOW_ENROLLMENT_TOKEN to keep it out of the shell history), stores
the device token it receives in --token-file (owner-only, 0600), prints the device id
and goes on polling like the first form. The device belongs to the token's owner; its
id is --device, else this machine's hostname, upper-cased (the API adds -2, -3... when
taken). Later starts use the first form with that id.`;

/** Device ids name directories under DATA_DIR, so they may not contain path separators or dots-only names. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const AGENT_OPTIONS = {
  device: { type: 'string' },
  api: { type: 'string' },
  'token-file': { type: 'string' },
  root: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The agent's command-line options plus a command's own; a mistake is a usage error. */
export function parseAgentArgs<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(
  argv: string[],
  extra: T,
) {
  try {
    return parseArgs({
      args: argv,
      options: { ...AGENT_OPTIONS, ...extra },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new AgentConfigError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }
}

/** Reads arguments and environment, the token, and makes sure the install root exists. */
export async function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv): Promise<AgentConfig | 'help'> {
  const values = parseAgentArgs(argv, {});
  if (values.help) return 'help';

  const deviceId = values.device;
  if (!deviceId) throw new AgentConfigError(`--device is required\n${USAGE}`);
  if (!isDeviceId(deviceId)) throw new AgentConfigError(`invalid device id ${JSON.stringify(deviceId)}`);

  const dataDir = agentDataDir(env);
  const deviceDir = join(dataDir, 'devices', deviceId);
  const api = apiUrl(values.api, env);

  const root = resolve(values.root ?? join(deviceDir, 'root'));
  await mkdir(root, { recursive: true });

  const tokenFile = resolve(values['token-file'] ?? join(deviceDir, 'agent.token'));
  const token = env.REQFLOW_DEVICE_TOKEN?.trim() || (await readToken(tokenFile));
  if (!token) {
    throw new AgentConfigError(
      `no device token for ${deviceId}: REQFLOW_DEVICE_TOKEN is not set and ${tokenFile} is missing or empty`,
    );
  }
  return { deviceId, api, token, root };
}

export function isDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

export function agentDataDir(env: NodeJS.ProcessEnv): string {
  return resolve(env.DATA_DIR || 'data');
}

/** --api, else $REQFLOW_API_URL, else the local API on $PORT; without a trailing slash. */
export function apiUrl(value: string | undefined, env: NodeJS.ProcessEnv): string {
  const api = value || env.REQFLOW_API_URL || `http://127.0.0.1:${env.PORT || 3000}`;
  try {
    new URL(api);
  } catch {
    throw new AgentConfigError(`invalid API URL ${JSON.stringify(api)}`);
  }
  return api.replace(/\/+$/, '');
}

async function readToken(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentConfigError(`cannot read token file ${file}: ${(err as Error).message}`);
  }
}
