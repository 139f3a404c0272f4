import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { createHash, randomBytes } from 'node:crypto';
import type { DB } from '../db/client.js';
import * as t from '../db/schema.js';
import type {
  AccessRequestInput,
  BundleRequestInput,
  FeedbackRequestInput,
  InformationRequestInput,
  ResourceRequestInput,
  StandardServiceInput,
} from '../domain/request.js';
import { isFinalStatus } from '../domain/status.js';
import { CatalogItemKey, RequesterKey, RequestStatusKey, RequestTypeKey } from '../domain/temporal.js';
import type { Config } from '../runtime/config.js';
import type { accessRequest } from '../workflows/access.js';
import type { bundleRequest } from '../workflows/bundle.js';
import type { feedbackRequest } from '../workflows/feedback.js';
import type { informationRequest } from '../workflows/information.js';
import type { resourceRequest } from '../workflows/resource.js';
import { admissionUpdate } from './workflow-contract.js';
import type { standardServiceRequest } from '../workflows/standard-service.js';
import { accessUntilProblem } from '../domain/access.js';
import { formProblems } from '../service-catalog/form.js';
import { findRequest, recordSubmittedRequest, withdrawSubmittedRequest } from '../requests/index.js';
import { forbidden, unavailable, unprocessable } from './errors.js';
import type { UserPrincipal } from './plugins/auth.js';
import { currentRequest } from './request-access.js';
import type { CreateRequestBody } from './schemas/requests.js';

export interface SubmitDeps {
  db: DB;
  temporal: Client;
  config: Config;
}

type RequestRow = typeof t.requests.$inferSelect;

// Crockford base32: no I, L, O or U, so an id read over the phone is not misheard.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function base32(bytes: Uint8Array, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! % 32];
  return out;
}

/**
 * The request id is the workflow id. With an Idempotency-Key it is derived from
 * (requester, key), so a retry or double click lands on the same workflow.
 */
export function requestIdFor(requester: string, idempotencyKey: string | undefined): string {
  const bytes = idempotencyKey
    ? createHash('sha256').update(`${requester}\n${idempotencyKey}`).digest()
    : randomBytes(10);
  return `REQ-${base32(bytes, 10)}`;
}

function fingerprintOf(requester: string, body: CreateRequestBody): string {
  const fields = Object.entries(body.fields ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const canonical = JSON.stringify([
    requester,
    body.catalogItemId,
    body.deviceId ?? null,
    body.justification ?? null,
    body.onBehalfOf ?? null,
    fields,
    // Appended only when set, so the keys of requests made before accessUntil existed still match.
    ...(body.accessUntil ? [body.accessUntil] : []),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Who may order for someone else: their manager, the service desk and operators. */
async function mayRequestFor(db: DB, user: UserPrincipal, beneficiaryId: string): Promise<boolean> {
  if (user.isOperator || user.groups.includes('service-desk')) return true;
  const [b] = await db
    .select({ managerId: t.users.managerId })
    .from(t.users)
    .where(eq(t.users.id, beneficiaryId))
    .limit(1);
  return b?.managerId === user.id;
}

async function catalogItem(db: DB, id: string): Promise<CatalogRow | undefined> {
  const [item] = await db.select().from(t.catalogItems).where(eq(t.catalogItems.id, id)).limit(1);
  return item;
}

/**
 * Checks the body against the catalog and the people and devices it names; throws a 4xx
 * problem. `parts` are a bundle's items, in the bundle's order.
 */
async function validate(db: DB, user: UserPrincipal, body: CreateRequestBody) {
  const item = await catalogItem(db, body.catalogItemId);
  if (!item) throw unprocessable(`Unknown catalog item "${body.catalogItemId}"; see GET /api/catalog.`);
  if (!item.active) {
    throw unprocessable(
      `${item.name} (${item.id}) was retired from the catalog and can no longer be requested; see GET /api/catalog.`,
    );
  }
  let beneficiary = user.id;
  if (body.onBehalfOf && body.onBehalfOf !== user.id) {
    const [other] = await db
      .select({ id: t.users.id })
      .from(t.users)
      .where(and(eq(t.users.id, body.onBehalfOf), eq(t.users.active, true)))
      .limit(1);
    if (!other) throw unprocessable(`Unknown user "${body.onBehalfOf}" in onBehalfOf.`);
    if (!(await mayRequestFor(db, user, other.id))) {
      throw forbidden(
        `Only ${other.id}'s manager, the service desk or an operator may request on their behalf.`,
      );
    }
    beneficiary = other.id;
  }
  if (item.type === 'access' || body.accessUntil !== undefined) {
    const problem = accessUntilProblem(item.accessDuration, body.accessUntil, Date.now());
    if (problem) {
      throw unprocessable(`${item.name}: ${problem}`, [{ path: 'body/accessUntil', message: problem }]);
    }
  }
  const problems = formProblems(item.formFields, body.fields ?? {}, item.name);
  if (problems.length > 0) {
    throw unprocessable(
      problems.map((p) => p.message).join(' '),
      problems.map((p) => ({ path: `body/fields/${p.field}`, message: p.message })),
    );
  }
  const parts: CatalogRow[] = [];
  for (const p of item.bundle ?? []) {
    const part = await catalogItem(db, p.catalogItemId);
    if (!part?.active)
      throw unprocessable(`${item.name} includes "${p.catalogItemId}", which is not available.`);
    parts.push(part);
  }
  const needsDevice = item.bundle
    ? parts.some((p) => p.type === 'standard_service')
    : item.type === 'standard_service';
  if (!needsDevice) return { item, beneficiary, deviceId: null, parts };
  if (!body.deviceId) throw unprocessable(`${item.name} is installed on a device: send deviceId.`);
  const [device] = await db.select().from(t.devices).where(eq(t.devices.id, body.deviceId)).limit(1);
  if (!device || device.ownerId !== beneficiary) {
    throw unprocessable(`Device "${body.deviceId}" is not registered to ${beneficiary}.`);
  }
  // Its agent can no longer fetch jobs: the request would only wait for the device and escalate.
  if (device.unenrolledAt && !device.tokenHash) {
    throw unprocessable(
      `Device "${body.deviceId}" was unenrolled on ${device.unenrolledAt}; it takes no new software.`,
    );
  }
  return { item, beneficiary, deviceId: device.id, parts };
}

type CatalogRow = typeof t.catalogItems.$inferSelect;
interface CommonInput {
  requestId: string;
  catalogItemId: string;
  catalogItemVersion?: number;
  requester: string;
  beneficiary: string;
  justification?: string;
  approval: Config['approval'];
  sla?: NonNullable<CatalogRow['sla']>;
  parentId?: string;
}

/** One workflow type per request type, with the input it takes. */
function workflowFor(
  config: Config,
  item: CatalogRow,
  common: CommonInput,
  fields: Record<string, string>,
  deviceId: string | null,
  access: { accessUntil?: string; renewalOf?: string } = {},
) {
  switch (item.type) {
    case 'access':
      return {
        type: 'accessRequest',
        args: [
          {
            ...common,
            ...(access.accessUntil ? { accessUntil: new Date(access.accessUntil).toISOString() } : {}),
            ...(access.renewalOf ? { renewalOf: access.renewalOf } : {}),
            remindBefore: config.access.remindBefore,
          },
        ] as [AccessRequestInput],
      };
    case 'resource':
      return {
        type: 'resourceRequest',
        args: [{ ...common, deliveryTimeout: config.resourceDeliveryTimeout }] as [ResourceRequestInput],
      };
    case 'feedback':
      return {
        type: 'feedbackRequest',
        args: [
          {
            ...common,
            service: fields.service?.trim() ?? '',
            message: fields.message?.trim() ?? '',
            fallbackGroupId: item.fulfillmentGroupId ?? 'service-desk',
          },
        ] as [FeedbackRequestInput],
      };
    case 'information':
      return {
        type: 'informationRequest',
        args: [
          {
            ...common,
            question: fields.question?.trim() || common.justification?.trim() || item.name,
            fulfillmentGroupId: item.fulfillmentGroupId ?? 'service-desk',
            feedbackWindow: config.infoFeedbackWindow,
          },
        ] as [InformationRequestInput],
      };
    case 'standard_service':
      return {
        type: 'standardServiceRequest',
        args: [{ ...common, deviceId: deviceId!, options: config.standardService }] as [StandardServiceInput],
      };
  }
}

/**
 * Submits a request: validates it, records the projection row, and starts its
 * workflow with update-with-start so the answer can carry the entitlement result
 * (early return) when it is ready within `submitWaitMs`. Returns the row to show.
 */
export async function submitRequest(
  deps: SubmitDeps,
  user: UserPrincipal,
  body: CreateRequestBody,
  idempotencyKey: string | undefined,
  /** A renewal (POST /api/access/grants/:id/renewal): the grant it continues. */
  renewalOf?: string,
): Promise<{ row: RequestRow; created: boolean }> {
  const { db, temporal, config } = deps;
  const { item, beneficiary, deviceId, parts } = await validate(db, user, body);
  const id = requestIdFor(user.id, idempotencyKey);
  const fingerprint = fingerprintOf(user.id, body);
  const existing = await findRequest(db, id);
  if (existing) {
    if (existing.fingerprint !== fingerprint) {
      throw unprocessable('This Idempotency-Key was already used for a different request; use a new key.');
    }
    if (isFinalStatus(existing.status)) return { row: existing, created: false };
  }

  const created = await recordSubmittedRequest(db, {
    id,
    type: item.type,
    catalogItemId: item.id,
    requesterId: user.id,
    beneficiaryId: beneficiary,
    deviceId,
    catalogItemVersion: item.version || null,
    justification: body.justification ?? null,
    fields: body.fields ?? null,
    accessUntil: body.accessUntil ? new Date(body.accessUntil).toISOString() : null,
    renewalOf: renewalOf ?? null,
    idempotencyKey: idempotencyKey ?? null,
    fingerprint,
  });

  const common = {
    requestId: id,
    catalogItemId: item.id,
    ...(item.version ? { catalogItemVersion: item.version } : {}),
    requester: user.id,
    beneficiary,
    ...(body.justification ? { justification: body.justification } : {}),
    approval: config.approval,
    ...(item.sla ? { sla: item.sla } : {}),
  };
  const workflow = item.bundle
    ? {
        type: 'bundleRequest',
        args: [
          {
            ...common,
            type: item.type,
            children: item.bundle.map((part, n) => {
              const childItem = parts[n]!;
              const child = workflowFor(
                config,
                childItem,
                {
                  ...common,
                  requestId: `${id}C${n + 1}`,
                  catalogItemId: childItem.id,
                  ...(childItem.version ? { catalogItemVersion: childItem.version } : {}),
                  parentId: id,
                  ...(childItem.sla ? { sla: childItem.sla } : {}),
                },
                part.fields ?? {},
                deviceId,
              );
              return {
                requestId: `${id}C${n + 1}`,
                catalogItemId: childItem.id,
                workflowType: child.type,
                input: child.args[0],
              };
            }),
          },
        ] as [BundleRequestInput],
      }
    : workflowFor(config, item, common, body.fields ?? {}, deviceId, {
        ...(body.accessUntil ? { accessUntil: body.accessUntil } : {}),
        ...(renewalOf ? { renewalOf } : {}),
      });
  type AnyRequestWorkflow =
    | typeof standardServiceRequest
    | typeof accessRequest
    | typeof informationRequest
    | typeof resourceRequest
    | typeof feedbackRequest
    | typeof bundleRequest;
  const startOptions = {
    workflowId: id,
    taskQueue: config.temporal.taskQueue,
    args: workflow.args,
    // Same id while running: join it. Same id after it closed: never run the request twice.
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: RequestTypeKey, value: item.type },
      { key: RequestStatusKey, value: 'submitted' },
      { key: CatalogItemKey, value: item.id },
      { key: RequesterKey, value: user.id },
    ],
  } satisfies WorkflowStartOptions<AnyRequestWorkflow>;

  try {
    await temporal.withDeadline(Date.now() + config.submitWaitMs, () =>
      temporal.workflow.executeUpdateWithStart(admissionUpdate, {
        startWorkflowOperation: new WithStartWorkflowOperation<AnyRequestWorkflow>(
          workflow.type,
          startOptions,
        ),
      }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
      // The wait ran out (no worker yet, a slow check) or the update was refused: make
      // sure the workflow exists, which is idempotent thanks to the conflict policy.
      try {
        await temporal.workflow.start<AnyRequestWorkflow>(workflow.type, startOptions);
      } catch (startErr) {
        if (!(startErr instanceof WorkflowExecutionAlreadyStartedError)) {
          // Nothing was started: undo the row so a failed submission changes nothing.
          if (created) await withdrawSubmittedRequest(db, id);
          throw unavailable(
            `The request could not be started: Temporal is not reachable (${String(startErr)}).`,
          );
        }
      }
    }
  }
  return { row: await currentRequest(db, id), created };
}
