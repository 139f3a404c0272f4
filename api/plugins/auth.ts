import fastifyJwt from '@fastify/jwt';
import { and, eq } from 'drizzle-orm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { findDeviceByToken } from '../../devices/index.js';
import type { DB } from '../../db/client.js';
import * as t from '../../db/schema.js';
import { HttpProblem } from '../errors.js';

export interface UserPrincipal {
  id: string;
  name: string;
  roleId: string;
  groups: string[];
  isOperator: boolean;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler: a user's bearer token. */
    authenticate: (request: FastifyRequest) => Promise<void>;
    /** preHandler: a device agent's bearer token. */
    authenticateDevice: (request: FastifyRequest) => Promise<void>;
    /** Signs a user token (dev login, tests). */
    issueUserToken: (userId: string) => string;
  }
  interface FastifyRequest {
    principal: UserPrincipal;
    deviceId: string;
  }
}

const unauthorized = (detail: string) => new HttpProblem(401, 'Unauthorized', detail);

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw unauthorized('Send "Authorization: Bearer <token>".');
  return match[1];
}

/** Loads who a user is and what they belong to; groups decide fulfiller and operator rights. */
export function loadPrincipal(db: DB, userId: string): UserPrincipal | undefined {
  const user = db
    .select()
    .from(t.users)
    .where(and(eq(t.users.id, userId), eq(t.users.active, true)))
    .get();
  if (!user) return undefined;
  const groups = db
    .select({ id: t.groupMembers.groupId })
    .from(t.groupMembers)
    .where(eq(t.groupMembers.userId, userId))
    .all()
    .map((g) => g.id);
  return {
    id: user.id,
    name: user.name,
    roleId: user.roleId,
    groups,
    isOperator: groups.includes('operators'),
  };
}

/**
 * Users carry a signed token (HS256, 12 h); devices carry an opaque token whose
 * sha256 is stored on the device row, so a database leak does not leak tokens.
 */
export default fp(
  async function auth(app: FastifyInstance, opts: { db: DB; secret: string }) {
    await app.register(fastifyJwt, { secret: opts.secret, sign: { expiresIn: '12h' } });
    app.decorateRequest('principal', null as unknown as UserPrincipal);
    app.decorateRequest('deviceId', '');

    app.decorate('issueUserToken', (userId: string) => app.jwt.sign({ sub: userId }));

    app.decorate('authenticate', async (request: FastifyRequest) => {
      bearer(request);
      let payload: { sub: string };
      try {
        payload = await request.jwtVerify<{ sub: string }>();
      } catch {
        throw unauthorized('The bearer token is invalid or expired; log in again.');
      }
      const principal = loadPrincipal(opts.db, payload.sub);
      if (!principal) throw unauthorized('The user of this token no longer exists or is inactive.');
      request.principal = principal;
    });

    app.decorate('authenticateDevice', async (request: FastifyRequest) => {
      const device = await findDeviceByToken(opts.db, bearer(request));
      if (!device) {
        throw unauthorized(
          'Unknown or revoked device token. An unenrolled device enrolls again with a new enrollment token from an operator.',
        );
      }
      request.deviceId = device.id;
    });
  },
  { name: 'auth' },
);
