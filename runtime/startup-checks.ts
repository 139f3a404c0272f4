import { isIP } from 'node:net';
import type { Config } from './config.js';

/** HMAC keys are derived from the secret: below 32 bytes it is guessable offline from one token. */
export const MIN_SECRET_BYTES = 32;

/** 127.0.0.0/8, ::1 and localhost: addresses no other machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** POST /api/dev/login logs anyone in without a password: only in dev mode, only on loopback. */
export function devLoginAllowed(config: Pick<Config, 'devMode' | 'host'>): boolean {
  return config.devMode && isLoopbackHost(config.host);
}

/**
 * Why an issuer (or a key-set URL it publishes) cannot be trusted, or undefined when it can:
 * keys fetched over plain HTTP could be swapped by anyone on the path, so only https://,
 * or http:// to this very machine (a provider in a test or on a developer's laptop).
 */
export function insecureUrlProblem(name: string, url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${name} must be a URL like https://login.example.com/realms/acme, got "${url}".`;
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return undefined;
  return `${name} must use https:// (http:// only on loopback: 127.0.0.1, localhost, [::1]), got "${url}".`;
}

/**
 * What is unsafe about starting with this configuration, one sentence each saying what
 * to set; empty when nothing is. `api` covers the API and `npm start` (which starts it);
 * the worker signs links, so only the secret concerns it.
 */
export function startupProblems(config: Config, role: 'api' | 'worker' = 'api'): string[] {
  const problems: string[] = [];
  if (role === 'api' && config.devMode && !isLoopbackHost(config.host)) {
    problems.push(
      `Dev mode (REQFLOW_DEV_MODE, on by default in npm start without TEMPORAL_ADDRESS) lets anyone log in ` +
        `without a password, so it serves only loopback, but HOST is "${config.host}". Set HOST=127.0.0.1, ` +
        `or turn dev mode off (REQFLOW_DEV_MODE=0) and set REQFLOW_SECRET, OIDC_ISSUER and OIDC_AUDIENCE.`,
    );
  }
  if (!config.devMode && Buffer.byteLength(config.secret ?? '', 'utf8') < MIN_SECRET_BYTES) {
    problems.push(
      `REQFLOW_SECRET must be set to at least ${MIN_SECRET_BYTES} bytes outside dev mode ` +
        `(${config.secret ? `it has ${Buffer.byteLength(config.secret, 'utf8')}` : 'it is unset'}); ` +
        `it keys user tokens and approve and survey links. Generate one with: openssl rand -hex 32`,
    );
  }
  if (role === 'api') {
    const { issuer, audiences } = config.oidc;
    if (issuer) {
      const problem = insecureUrlProblem('OIDC_ISSUER', issuer);
      if (problem) problems.push(problem);
      if (audiences.length === 0)
        problems.push(
          'OIDC_AUDIENCE must be set with OIDC_ISSUER: the "aud" of access tokens meant for this API ' +
            '(without it, a token the provider issued to any other application would be accepted).',
        );
    } else if (audiences.length > 0) {
      problems.push("OIDC_AUDIENCE is set but OIDC_ISSUER is not: set the provider's issuer URL too.");
    }
  }
  return problems;
}

/** Throws one error naming every problem, so a process refuses to start before it touches anything. */
export function checkStartup(config: Config, role: 'api' | 'worker' = 'api'): void {
  const problems = startupProblems(config, role);
  if (problems.length > 0) throw new Error(`refusing to start:\n- ${problems.join('\n- ')}`);
}
