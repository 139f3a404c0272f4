import { pageQuery } from './common.js';
import { Type, type Static } from 'typebox';
import {
  DEFAULT_ENROLLMENT_SECONDS,
  DEVICE_STATES,
  MAX_ENROLLMENT_SECONDS,
  MIN_ENROLLMENT_SECONDS,
} from '../../devices/index.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const UserId = Type.String({ minLength: 1, maxLength: 100, description: 'User id' });

export const DeviceId = Type.String({
  minLength: 1,
  maxLength: 100,
  description: 'Device id, e.g. LAPTOP-ALICE',
});

export const CreateEnrollmentBody = Type.Object(
  {
    ownerId: UserId,
    expiresIn: Type.Optional(
      Type.Integer({
        minimum: MIN_ENROLLMENT_SECONDS,
        maximum: MAX_ENROLLMENT_SECONDS,
        default: DEFAULT_ENROLLMENT_SECONDS,
        description: 'Seconds the token stays valid: a minute to a week, a day when absent',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateEnrollmentBody = Static<typeof CreateEnrollmentBody>;

export const Enrollment = Type.Object({
  id: Type.String({ description: 'ENR-…' }),
  token: Type.String({
    description: 'The single-use enrollment token. Shown only in this answer; reqflow stores its hash.',
  }),
  ownerId: UserId,
  expiresAt: Type.String({ description: 'ISO-8601 UTC' }),
});

export const EnrollBody = Type.Object(
  {
    // Printable ASCII without spaces: what operating systems allow in host names, and safe in logs.
    hostname: Type.String({ minLength: 1, maxLength: 253, pattern: '^[!-~]+$' }),
    platform: Type.String({
      minLength: 1,
      maxLength: 32,
      pattern: '^[a-z0-9_-]+$',
      description: "Node's process.platform: linux, darwin, win32, …",
    }),
    deviceId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          'The id asked for; upper-cased, reduced to letters, digits and dashes, and suffixed -2, -3… when taken. ' +
          "Default: the hostname's first label.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type EnrollBody = Static<typeof EnrollBody>;

export const EnrolledDevice = Type.Object({
  deviceId: DeviceId,
  token: Type.String({
    description:
      "The device's own token for /api/agent/*. Shown only in this answer; reqflow stores its hash.",
  }),
  ownerId: UserId,
});

export const DeviceView = Type.Object({
  id: DeviceId,
  name: Type.String(),
  ownerId: UserId,
  platform: Type.String(),
  hostname: Nullable(Type.String({ description: 'As the agent reported it when it enrolled' })),
  state: Type.Enum(DEVICE_STATES, {
    description: 'enrolled: its token works; unenrolled: an operator revoked it; not_enrolled: never had one',
  }),
  enrolledAt: Nullable(Type.String({ description: 'ISO-8601 UTC' })),
  unenrolledAt: Nullable(Type.String({ description: 'ISO-8601 UTC' })),
  lastSeenAt: Nullable(Type.String({ description: "The agent's latest call, ISO-8601 UTC" })),
});

export const ListDevicesQuery = Type.Object(
  {
    ownerId: Type.Optional(UserId),
    state: Type.Optional(Type.Enum(DEVICE_STATES)),
    ...pageQuery(100, 500),
  },
  { additionalProperties: false },
);

export const DeviceList = Type.Object({ items: Type.Array(DeviceView) });

export const UnenrollBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why, for the audit trail' }) },
  { additionalProperties: false },
);
