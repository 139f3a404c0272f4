import type { FastifyBaseLogger } from 'fastify';
import SCIMMY from 'scimmy';
import {
  DirectoryError,
  type Directory,
  type DirectoryGroup,
  type DirectoryUser,
  type GroupInput,
  type UserInput,
} from '../directory/index.js';

// SCIM 2.0 (RFC 7643/7644) over the directory, with SCIMMY doing the protocol: schemas,
// filters, PatchOp, list responses and the error format. SCIMMY keeps its resource
// handlers process-wide, so they are declared once here and reach the directory through
// the per-call context every read/write/patch/dispose passes them.

export const ENTERPRISE_USER = SCIMMY.Schemas.EnterpriseUser.id;
const ENTERPRISE_MANAGER = `${ENTERPRISE_USER}:manager`.toLowerCase();

/** The largest page a list answers; also the page size when the provider names none. */
export const MAX_RESULTS = 200;

export interface ScimContext {
  directory: Directory;
  /** Who the audit trail names for these changes. */
  actor: string;
  /**
   * A person written by this call is (now) inactive: whatever approvals waited for them
   * must move on. `reason` completes "<id> …" in the request's step detail.
   */
  onInactive(user: DirectoryUser, reason: string): Promise<void>;
  log: FastifyBaseLogger;
  /** Members of the groups this call read: a PATCH writes back only what it changed (see replaceProvisionedGroup). */
  groupsRead?: Map<string, string[]>;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const scimError = (status: number, scimType: string | undefined, message: string) =>
  new SCIMMY.Types.Error(status, scimType as string, message);

/**
 * SCIMMY turns any error that is not its own into "404 not found"; a directory refusal
 * becomes the matching SCIM error here, and anything unexpected a logged, masked 500.
 */
async function guarded<T>(ctx: ScimContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SCIMMY.Types.Error) throw err;
    if (err instanceof DirectoryError) {
      if (err.reason === 'notFound') throw scimError(404, undefined, err.message);
      if (err.reason === 'uniqueness') throw scimError(409, 'uniqueness', err.message);
      throw scimError(400, 'invalidValue', err.message);
    }
    ctx.log.error({ err }, 'SCIM handler failed');
    throw scimError(500, undefined, 'Something went wrong on our side; the error was logged.');
  }
}

// ---- Users -------------------------------------------------------------------------------

interface ScimUserIn {
  userName: string;
  externalId?: string;
  displayName?: string;
  title?: string;
  active?: boolean;
  name?: { formatted?: string; givenName?: string; familyName?: string };
  emails?: { value: string; type?: string; primary?: boolean }[];
  roles?: { value?: string; display?: string; primary?: boolean }[];
  [ENTERPRISE_USER]?: { manager?: { value?: string } };
}

/**
 * What reqflow reads from a SCIM user. The role rule: the primary `roles[].value`, the
 * other roles, then `title`, whichever first names a reqflow role; none does: `employee`.
 */
export function userInputFrom(u: ScimUserIn): UserInput {
  const emails = u.emails ?? [];
  const email = (emails.find((e) => e.primary) ?? emails.find((e) => e.type === 'work') ?? emails[0])?.value;
  const roles = [...(u.roles ?? [])].sort((a, b) => Number(b.primary ?? false) - Number(a.primary ?? false));
  const given = [u.name?.givenName, u.name?.familyName].filter(Boolean).join(' ');
  return {
    userName: u.userName,
    externalId: u.externalId ?? null,
    displayName: u.displayName || u.name?.formatted || given || null,
    email: email ?? null,
    roleHints: [...roles.flatMap((r) => [r.value, r.display]), u.title],
    managerId: u[ENTERPRISE_USER]?.manager?.value ?? null,
    ...(u.active !== undefined ? { active: u.active } : {}),
  };
}

const meta = (x: { createdAt: string | null; updatedAt: string | null }) => ({
  ...(x.createdAt ? { created: x.createdAt } : {}),
  ...(x.updatedAt ? { lastModified: x.updatedAt } : {}),
});

/** A person as SCIM shows them; `title` is the role the rule gave them, so a round trip keeps it. */
export function toScimUser(u: DirectoryUser): Json {
  return {
    id: u.id,
    userName: u.userName,
    ...(u.externalId ? { externalId: u.externalId } : {}),
    displayName: u.name,
    name: { formatted: u.name },
    title: u.roleName,
    active: u.active,
    ...(u.email ? { emails: [{ value: u.email, type: 'work', primary: true }] } : {}),
    groups: u.groups
      .filter((g) => g.provisioned)
      .map((g) => ({ value: g.id, display: g.name, type: 'direct' })),
    ...(u.managerId
      ? {
          [ENTERPRISE_USER]: {
            manager: { value: u.managerId, ...(u.managerName ? { displayName: u.managerName } : {}) },
          },
        }
      : {}),
    meta: meta(u),
  };
}

// ---- Groups ------------------------------------------------------------------------------

interface ScimGroupIn {
  displayName: string;
  externalId?: string;
  members?: { value?: string; type?: string }[];
}

export function groupInputFrom(g: ScimGroupIn): GroupInput {
  const members = g.members ?? [];
  if (members.some((m) => m.type?.toLowerCase() === 'group'))
    throw scimError(400, 'invalidValue', 'members: groups inside groups are not supported; send users.');
  if (members.some((m) => !m.value))
    throw scimError(400, 'invalidValue', 'members: every member needs a value.');
  return {
    displayName: g.displayName,
    externalId: g.externalId ?? null,
    members: [...new Set(members.map((m) => m.value!))],
  };
}

export function toScimGroup(g: DirectoryGroup): Json {
  return {
    id: g.id,
    displayName: g.name,
    ...(g.externalId ? { externalId: g.externalId } : {}),
    members: g.members.map((m) => ({ value: m.id, display: m.name, type: 'User' })),
    meta: meta(g),
  };
}

// ---- Filters -----------------------------------------------------------------------------

/**
 * A filter that is a single `<attribute> eq "<value>"` on one of `attributes`: what identity
 * providers send to match a user or group before creating it. Answered by an indexed
 * lookup; any other filter is matched by SCIMMY over the whole list.
 */
function simpleEquality<A extends string>(filter: SCIMMY.Types.Filter | undefined, attributes: readonly A[]) {
  if (filter?.length !== 1) return undefined;
  const entries = Object.entries(filter[0] as Json);
  if (entries.length !== 1) return undefined;
  const [key, comparison] = entries[0]!;
  if (!Array.isArray(comparison) || comparison.length !== 2 || String(comparison[0]).toLowerCase() !== 'eq')
    return undefined;
  const attribute = attributes.find((a) => a.toLowerCase() === key.toLowerCase());
  const value: unknown = comparison[1];
  return attribute && typeof value === 'string'
    ? ({ [attribute]: value } as Partial<Record<A, string>>)
    : undefined;
}

function filtered(resource: SCIMMY.Types.Resource, all: Json[], exact: boolean): Json[] {
  return exact || !resource.filter ? all : (resource.filter.match(all) as Json[]);
}

// ---- Declaration -------------------------------------------------------------------------

let declared = false;

/** Declares User (with the enterprise extension) and Group once per process; sets where they live. */
export function declareScimResources(baseUrl: string, documentationUri: string): void {
  if (!declared) {
    declared = true;
    // Config.set appends to lists (authenticationSchemes), so the fixed part is set once.
    SCIMMY.Config.set({
      patch: { supported: true },
      filter: { supported: true, maxResults: MAX_RESULTS },
      bulk: { supported: false },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: false },
      authenticationSchemes: [
        {
          type: 'oauthbearertoken',
          name: 'Bearer token',
          description: 'The provisioning token set as SCIM_TOKEN, sent as "Authorization: Bearer <token>".',
        },
      ],
    });
    SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false))
      .egress((resource, ctx: ScimContext) =>
        guarded(ctx, async () => {
          if (resource.id) {
            const user = await ctx.directory.findUser(resource.id);
            if (!user) throw scimError(404, undefined, `User ${resource.id} not found.`);
            return toScimUser(user) as never;
          }
          const exact = simpleEquality(resource.filter, ['id', 'userName', 'externalId'] as const);
          const users = exact ? await ctx.directory.findUsers(exact) : await ctx.directory.listUsers();
          return filtered(resource, users.map(toScimUser), exact !== undefined) as never;
        }),
      )
      .ingress((resource, instance, ctx: ScimContext) =>
        guarded(ctx, async () => {
          const input = userInputFrom(instance);
          const user = resource.id
            ? await ctx.directory.replaceUser(resource.id, input, ctx.actor)
            : await ctx.directory.createUser(input, ctx.actor);
          if (!user.active) await ctx.onInactive(user, 'was deactivated in the directory');
          return toScimUser(user) as never;
        }),
      )
      .degress((resource, ctx: ScimContext) =>
        guarded(ctx, async () => {
          const user = await ctx.directory.removeUser(resource.id!, ctx.actor);
          await ctx.onInactive(user, 'was removed from the directory');
        }),
      );

    SCIMMY.Resources.declare(SCIMMY.Resources.Group)
      .egress((resource, ctx: ScimContext) =>
        guarded(ctx, async () => {
          if (resource.id) {
            const group = await ctx.directory.findProvisionedGroup(resource.id);
            if (!group) throw scimError(404, undefined, `Group ${resource.id} not found.`);
            ctx.groupsRead?.set(
              group.id,
              group.members.map((m) => m.id),
            );
            return toScimGroup(group) as never;
          }
          const exact = simpleEquality(resource.filter, ['id', 'displayName', 'externalId'] as const);
          const groups = exact
            ? await ctx.directory.findProvisionedGroups(exact)
            : await ctx.directory.listProvisionedGroups();
          return filtered(resource, groups.map(toScimGroup), exact !== undefined) as never;
        }),
      )
      .ingress((resource, instance, ctx: ScimContext) =>
        guarded(ctx, async () => {
          const input = groupInputFrom(instance);
          const since = resource.id ? ctx.groupsRead?.get(resource.id) : undefined;
          const group = resource.id
            ? await ctx.directory.replaceProvisionedGroup(
                resource.id,
                input,
                ctx.actor,
                since ? { since } : {},
              )
            : await ctx.directory.provisionGroup(input, ctx.actor);
          return toScimGroup(group) as never;
        }),
      )
      .degress((resource, ctx: ScimContext) =>
        guarded(ctx, () => ctx.directory.releaseGroup(resource.id!, ctx.actor)),
      );
  }
  for (const resource of [
    SCIMMY.Resources.User,
    SCIMMY.Resources.Group,
    SCIMMY.Resources.Schema,
    SCIMMY.Resources.ResourceType,
    SCIMMY.Resources.ServiceProviderConfig,
  ])
    resource.basepath(baseUrl);
  SCIMMY.Config.set({ documentationUri });
}

// ---- Request checks ------------------------------------------------------------------------

type Definition = SCIMMY.Types.SchemaDefinition;
type Attribute = SCIMMY.Types.Attribute;

/**
 * Attribute names in a POST or PUT body that the resource's schemas do not define (SCIMMY
 * would drop them silently; a provider mapping an attribute reqflow does not know should
 * hear so). Names compare case-insensitively, as SCIM's do.
 */
export function unknownAttributes(definition: Definition, body: Json): string[] {
  const unknown: string[] = [];
  const walk = (attributes: readonly Attribute[], value: unknown, path: string) => {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (!isObject(item)) continue;
      for (const [key, v] of Object.entries(item)) {
        const attribute = attributes.find((a) => a.name.toLowerCase() === key.toLowerCase());
        if (!attribute) unknown.push(`${path}${key}`);
        else if (attribute.subAttributes) walk(attribute.subAttributes, v, `${path}${key}.`);
      }
    }
  };
  // Extensions sit among a schema's attributes, though SCIMMY's types list only attributes.
  const members = (d: Definition) => d.attributes as readonly (Attribute | Definition)[];
  const extensions = members(definition).filter(
    (a): a is Definition => a instanceof SCIMMY.Types.SchemaDefinition,
  );
  const core = members(definition).filter((a): a is Attribute => a instanceof SCIMMY.Types.Attribute);
  for (const [key, value] of Object.entries(body)) {
    const lowered = key.toLowerCase();
    const extension = extensions.find((e) => lowered === e.id.toLowerCase());
    if (extension) {
      walk(
        members(extension).filter((a): a is Attribute => a instanceof SCIMMY.Types.Attribute),
        value,
        `${key}:`,
      );
      continue;
    }
    // "urn:…:User:department" names one attribute of a schema directly.
    const owner = [definition, ...extensions].find((d) => lowered.startsWith(`${d.id.toLowerCase()}:`));
    if (owner) {
      try {
        owner.attribute(key.slice(owner.id.length + 1));
      } catch {
        unknown.push(key);
      }
      continue;
    }
    walk(core, { [key]: value }, '');
  }
  return unknown;
}

/**
 * Entra ID's PATCH dialect, made standard before SCIMMY applies it: `active` as the string
 * "True"/"False", and the enterprise manager as a bare id instead of `{"value": id}`.
 */
export function standardPatch(message: unknown): unknown {
  if (!isObject(message) || !Array.isArray(message.Operations)) return message;
  const bool = (v: unknown) =>
    typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : v;
  const fix = (path: string, v: unknown) =>
    path.toLowerCase() === 'active'
      ? bool(v)
      : path.toLowerCase() === ENTERPRISE_MANAGER && typeof v === 'string'
        ? { value: v }
        : v;
  return {
    ...message,
    Operations: message.Operations.map((op: unknown) => {
      if (!isObject(op)) return op;
      if (typeof op.path === 'string') return { ...op, value: fix(op.path, op.value) };
      if (isObject(op.value))
        return {
          ...op,
          value: Object.fromEntries(Object.entries(op.value).map(([k, v]) => [k, fix(k, v)])),
        };
      return op;
    }),
  };
}
