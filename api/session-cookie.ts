import type { FastifyReply, FastifyRequest } from 'fastify';
import { isLoopbackHost } from '../runtime/startup-checks.js';

/** The portal's session: a user token of this API, kept where page scripts cannot read it. */
export const SESSION_COOKIE = 'reqflow_session';

/**
 * The header the portal sends on every call. A cross-site form or image cannot set a custom
 * header, and a cross-site script needs a CORS preflight this API never grants, so a
 * cookie-authenticated write that carries it was made by a page of this origin.
 */
export const CSRF_HEADER = 'x-reqflow-csrf';

/** Same lifetime as the token inside it (a working day and then some). */
const SESSION_MAX_AGE_S = 12 * 60 * 60;

/** Secure everywhere but plain http on this machine, where browsers would drop a Secure cookie. */
export function cookieIsSecure(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return !(url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

/** The value of one cookie of the request, or undefined. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function cookie(name: string, value: string, maxAge: number, secure: boolean, path = '/'): string {
  // SameSite=Lax: sent on a top-level navigation from elsewhere (a link in a mail opens the
  // portal signed in), never on a cross-site POST, fetch or frame.
  return [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${path}`,
    `Max-Age=${maxAge}`,
    'HttpOnly',
    'SameSite=Lax',
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

/** Appends a Set-Cookie (a reply may set several). */
export function setCookie(
  reply: FastifyReply,
  name: string,
  value: string,
  opts: { maxAge: number; secure: boolean; path?: string },
): void {
  const existing = reply.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)];
  reply.header('set-cookie', [...list, cookie(name, value, opts.maxAge, opts.secure, opts.path)]);
}

export function setSessionCookie(reply: FastifyReply, token: string, secure: boolean): void {
  setCookie(reply, SESSION_COOKIE, token, { maxAge: SESSION_MAX_AGE_S, secure });
}

export function clearSessionCookie(reply: FastifyReply, secure: boolean): void {
  setCookie(reply, SESSION_COOKIE, '', { maxAge: 0, secure });
}
