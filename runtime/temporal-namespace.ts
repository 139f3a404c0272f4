/**
 * What reqflow needs of its Temporal namespace: that it exists, and that it has the search
 * attributes the workflows upsert from their first task (domain/temporal.ts). A workflow
 * that upserts an unregistered attribute fails its task over and over, so the worker and
 * the API check this at start, and `npm run temporal:setup` provides it.
 */
import { isGrpcServiceError } from '@temporalio/client';
// Default import: the package is CommonJS, and Node's ESM loader cannot see its named exports.
import proto from '@temporalio/proto';
import type { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTE_KEYS } from '../domain/temporal.js';

type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
const Indexed = proto.temporal.api.enums.v1.IndexedValueType;

/** The server's enum for each attribute type we register. */
const INDEXED_TYPE: Partial<Record<SearchAttributeType, IndexedValueType>> = {
  KEYWORD: Indexed.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: Indexed.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

function indexedType(type: SearchAttributeType): IndexedValueType {
  const indexed = INDEXED_TYPE[type];
  if (indexed === undefined) throw new Error(`no indexed type for search attribute type ${type}`);
  return indexed;
}

/** The gRPC status codes the answers below turn into advice. */
const GRPC = {
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const grpcCode = (err: unknown): number | undefined => (isGrpcServiceError(err) ? err.code : undefined);

/** The services a client `Connection` and a worker's `NativeConnection` both have. */
export type TemporalServices = {
  workflowService: Pick<
    proto.temporal.api.workflowservice.v1.WorkflowService,
    'describeNamespace' | 'registerNamespace'
  >;
  operatorService: Pick<
    proto.temporal.api.operatorservice.v1.OperatorService,
    'listSearchAttributes' | 'addSearchAttributes'
  >;
};

export interface AttributeState {
  missing: string[];
  /** Registered under our name with another type: a person has to sort that out. */
  wrongType: string[];
}

export async function searchAttributeState(
  connection: TemporalServices,
  namespace: string,
): Promise<AttributeState> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const have = customAttributes ?? {};
  const state: AttributeState = { missing: [], wrongType: [] };
  for (const key of SEARCH_ATTRIBUTE_KEYS) {
    const registered = have[key.name];
    if (registered === undefined) state.missing.push(key.name);
    else if (registered !== indexedType(key.type)) state.wrongType.push(key.name);
  }
  return state;
}

/** Registers the attributes this namespace lacks; returns their names (empty: nothing to do). */
export async function ensureSearchAttributes(
  connection: TemporalServices,
  namespace: string,
): Promise<string[]> {
  const { missing } = await searchAttributeState(connection, namespace);
  if (missing.length === 0) return [];
  const searchAttributes: Record<string, IndexedValueType> = {};
  for (const key of SEARCH_ATTRIBUTE_KEYS) {
    if (missing.includes(key.name)) searchAttributes[key.name] = indexedType(key.type);
  }
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  return missing;
}

const SETUP_HINT =
  'run `npm run temporal:setup` with the same TEMPORAL_* settings (README: "Running against a Temporal cluster or Temporal Cloud")';

/**
 * Throws, saying what to run, unless the namespace exists and has every attribute with its
 * type. Called by the worker and the API before they touch a workflow. Credentials that may
 * run workflows but not list the namespace's attributes cannot tell: that is a warning
 * (returned), not a refusal.
 */
export async function checkNamespaceReady(
  connection: TemporalServices,
  namespace: string,
  address: string,
): Promise<string | undefined> {
  let state: AttributeState;
  try {
    state = await searchAttributeState(connection, namespace);
  } catch (err) {
    if (grpcCode(err) === GRPC.NOT_FOUND)
      throw new Error(`Temporal namespace "${namespace}" does not exist on ${address}: ${SETUP_HINT}.`);
    if (isPermissionError(err))
      return `could not check the search attributes of namespace "${namespace}" (${err instanceof Error ? err.message : String(err)}); if workflows fail to set them, ${SETUP_HINT}`;
    throw err;
  }
  if (state.wrongType.length > 0) throw new Error(wrongTypeMessage(state.wrongType, namespace));
  if (state.missing.length > 0)
    throw new Error(
      `Temporal namespace "${namespace}" on ${address} lacks the search attributes ${state.missing.join(', ')}: ${SETUP_HINT}.`,
    );
  return undefined;
}

function wrongTypeMessage(names: string[], namespace: string): string {
  const want = SEARCH_ATTRIBUTE_KEYS.filter((k) => names.includes(k.name))
    .map((k) => `${k.name} (${k.type})`)
    .join(', ');
  return (
    `Temporal namespace "${namespace}" has ${names.join(', ')} registered with another type; reqflow needs ${want}. ` +
    'A search attribute cannot change type: remove it (`temporal operator search-attribute remove`) and run `npm run temporal:setup` again.'
  );
}

/** How long a namespace or attribute the server just accepted may take to show (a cluster's caches). */
const VISIBLE_WITHIN_MS = 60_000;
const VISIBLE_POLL_MS = 500;

/** Retention for a namespace this setup creates; an existing namespace keeps its own. */
const RETENTION_SECONDS = 30 * 24 * 3600;

function permissionMessage(what: string, namespace: string, err: unknown): string {
  const detail = err instanceof Error ? err.message : String(err);
  return (
    `The Temporal credentials may not ${what} (${detail}). ` +
    `Use credentials with the namespace admin role for "${namespace}" (on Temporal Cloud: an API key or ` +
    `certificate of a user or service account with Namespace Admin), or have an administrator run ` +
    '`npm run temporal:setup` once.'
  );
}

function isPermissionError(err: unknown): boolean {
  const code = grpcCode(err);
  return code === GRPC.PERMISSION_DENIED || code === GRPC.UNAUTHENTICATED;
}

async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + VISIBLE_WITHIN_MS;
  for (;;) {
    const result = await check().catch((err: unknown) => {
      if (grpcCode(err) === GRPC.NOT_FOUND || grpcCode(err) === GRPC.UNAVAILABLE) return undefined;
      throw err;
    });
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`${what} did not show within ${VISIBLE_WITHIN_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, VISIBLE_POLL_MS));
  }
}

export interface SetupReport {
  namespaceCreated: boolean;
  attributesAdded: string[];
}

/**
 * `npm run temporal:setup`: creates the namespace when it is missing (where the server lets
 * these credentials) and registers the attributes it lacks, then waits until the server
 * shows them. Idempotent: a second run changes nothing and reports so.
 */
export async function setUpNamespace(
  connection: TemporalServices,
  namespace: string,
  log: (line: string) => void,
): Promise<SetupReport> {
  let namespaceCreated = false;
  try {
    await connection.workflowService.describeNamespace({ namespace });
    log(`namespace "${namespace}" exists`);
  } catch (err) {
    if (isPermissionError(err)) throw new Error(permissionMessage('read the namespace', namespace, err));
    if (grpcCode(err) !== GRPC.NOT_FOUND) throw err;
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: proto.google.protobuf.Duration.fromObject({
          seconds: RETENTION_SECONDS,
        }),
        description: 'reqflow: IT service requests',
      });
    } catch (registerErr) {
      if (isPermissionError(registerErr))
        throw new Error(permissionMessage(`create the namespace "${namespace}"`, namespace, registerErr));
      // Another setup created it meanwhile.
      if (grpcCode(registerErr) !== GRPC.ALREADY_EXISTS) throw registerErr;
    }
    namespaceCreated = true;
    log(`namespace "${namespace}" created (retention ${RETENTION_SECONDS / 86400} days)`);
    await eventually(
      () => connection.workflowService.describeNamespace({ namespace }),
      `namespace "${namespace}"`,
    );
  }

  let added: string[];
  try {
    const state = await eventually(() => searchAttributeState(connection, namespace), 'the namespace');
    if (state.wrongType.length > 0) throw new Error(wrongTypeMessage(state.wrongType, namespace));
    added = await ensureSearchAttributes(connection, namespace);
  } catch (err) {
    if (isPermissionError(err))
      throw new Error(permissionMessage('register search attributes', namespace, err));
    throw err;
  }
  if (added.length === 0) {
    log(`search attributes ${SEARCH_ATTRIBUTE_KEYS.map((k) => k.name).join(', ')} already registered`);
  } else {
    await eventually(
      async () => {
        const { missing } = await searchAttributeState(connection, namespace);
        return missing.length === 0 ? true : undefined;
      },
      `search attributes ${added.join(', ')}`,
    );
    log(`search attributes registered: ${added.join(', ')}`);
  }
  return { namespaceCreated, attributesAdded: added };
}
