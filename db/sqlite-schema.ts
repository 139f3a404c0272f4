import { sql } from 'drizzle-orm';
import { integer, sqliteTable, text, uniqueIndex, index, primaryKey } from 'drizzle-orm/sqlite-core';
import {
  CHANGE_MODELS,
  CHANGE_STATES,
  JOB_ACTIONS,
  JOB_STATES,
  REQUEST_STATUSES,
  REQUEST_TYPES,
  SEAT_STATES,
  TASK_STATES,
} from '../domain/status.js';
import type { ApprovalPolicy } from '../domain/approval.js';
import {
  CAMPAIGN_STATES,
  GRANT_END_REASONS,
  REVIEW_DEADLINE_POLICIES,
  REVIEW_DECISIONS,
  REVIEW_OUTCOMES,
  type AccessDuration,
} from '../domain/access.js';
import type { Approval, RequestOutcome, RequestStep, WaitingOn } from '../domain/request.js';
import type { SlaPolicy } from '../domain/sla.js';
import type { BundlePart, FormField } from './column-types.js';

// Timestamps are ISO-8601 UTC strings: they sort as text, read well in the
// database shell and are what the workflows produce.
const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const roles = sqliteTable('roles', {
  id: text().primaryKey(),
  name: text().notNull(),
});

/**
 * People, as the directory (SCIM, or the demo organisation through the same path) says.
 * `id` is reqflow's own, stable key (workflows, approvals and the audit trail name it);
 * `userName` and `externalId` are the identity provider's and may change.
 */
export const users = sqliteTable(
  'users',
  {
    id: text().primaryKey(),
    /** SCIM userName (unique, compared case-insensitively); matched to the sign-in claim. */
    userName: text('user_name').notNull(),
    /** The identity provider's own id for the person (SCIM externalId, e.g. Entra's objectId). */
    externalId: text('external_id'),
    name: text().notNull(),
    email: text().notNull(),
    roleId: text('role_id')
      .notNull()
      .references(() => roles.id),
    managerId: text('manager_id'),
    active: integer({ mode: 'boolean' }).notNull().default(true),
    /** Set when the provider DELETEs the user: kept (history points at it), hidden from SCIM. */
    removedAt: text('removed_at'),
    /** SCIM meta.created / meta.lastModified (ISO-8601 UTC), kept by the directory. */
    createdAt: text('created_at'),
    updatedAt: text('updated_at'),
  },
  (t) => [
    uniqueIndex('users_user_name_idx').on(sql`lower(${t.userName})`),
    uniqueIndex('users_external_id_idx').on(t.externalId),
  ],
);

/**
 * Fulfillment groups, the CAB, the operators and the auditors: who may act on what.
 * `directory` groups come from the identity provider and carry no rights of their own.
 */
export const groups = sqliteTable(
  'groups',
  {
    id: text().primaryKey(),
    name: text().notNull(),
    kind: text({ enum: ['fulfillment', 'cab', 'operators', 'auditors', 'directory'] }).notNull(),
    /** The identity provider's id for the group (SCIM externalId). */
    externalId: text('external_id'),
    /** Set once the identity provider manages the group's members over SCIM. */
    scimManaged: integer('scim_managed', { mode: 'boolean' }).notNull().default(false),
    createdAt: text('created_at'),
    updatedAt: text('updated_at'),
  },
  (t) => [uniqueIndex('groups_external_id_idx').on(t.externalId)],
);

export const groupMembers = sqliteTable(
  'group_members',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
  },
  // Every authenticated request reads its caller's groups: the key leads with the group.
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('group_members_user_idx').on(t.userId)],
);

export const devices = sqliteTable('devices', {
  id: text().primaryKey(),
  name: text().notNull(),
  ownerId: text('owner_id')
    .notNull()
    .references(() => users.id),
  platform: text().notNull(),
  /** sha256 of the device's agent token; the token itself is never stored. */
  tokenHash: text('token_hash'),
  lastSeenAt: text('last_seen_at'),
  /** Hostname the agent reported when it enrolled. */
  hostname: text(),
  enrolledAt: text('enrolled_at'),
  /** Set when an operator unenrolls the device: its token stops working, its history stays. */
  unenrolledAt: text('unenrolled_at'),
});

/** Single-use enrollment tokens an operator issues for a device's owner. */
export const deviceEnrollments = sqliteTable('device_enrollments', {
  id: text().primaryKey(),
  /** sha256 of the enrollment token; the token is shown once, to the operator. */
  tokenHash: text('token_hash').notNull().unique(),
  ownerId: text('owner_id')
    .notNull()
    .references(() => users.id),
  createdBy: text('created_by').notNull(),
  createdAt: text('created_at').notNull().default(now),
  expiresAt: text('expires_at').notNull(),
  /** The device that spent the token; null while it is unused. */
  usedAt: text('used_at'),
  deviceId: text('device_id'),
});

export const securityGroups = sqliteTable('security_groups', {
  id: text().primaryKey(),
  name: text().notNull(),
  description: text().notNull(),
});

/** Who is in a security group, and which request (and so which approval) put them there. */
export const securityGroupMembers = sqliteTable(
  'security_group_members',
  {
    groupId: text('group_id')
      .notNull()
      .references(() => securityGroups.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    requestId: text('request_id'),
    /** Audit sequence number of the approval that allowed the grant. */
    approvalAuditSeq: integer('approval_audit_seq'),
    addedAt: text('added_at').notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] })],
);

/** An approver who is away names a delegate who may decide in their place. */
export const delegations = sqliteTable('delegations', {
  userId: text('user_id')
    .primaryKey()
    .references(() => users.id),
  delegateId: text('delegate_id')
    .notNull()
    .references(() => users.id),
  until: text(),
  createdAt: text('created_at').notNull().default(now),
});

/**
 * Pending and decided approvals, projected by the approval building block so the
 * API can list "my approvals" and refuse a non-approver before touching the workflow.
 */
export const approvalTasks = sqliteTable(
  'approval_tasks',
  {
    id: integer().primaryKey({ autoIncrement: true }),
    requestId: text('request_id').notNull(),
    level: integer().notNull(),
    approverId: text('approver_id')
      .notNull()
      .references(() => users.id),
    state: text({ enum: ['pending', 'approved', 'denied', 'superseded', 'expired', 'cancelled'] }).notNull(),
    /** Set when someone else (a delegate) decided for this approver. */
    decidedBy: text('decided_by'),
    comment: text(),
    createdAt: text('created_at').notNull().default(now),
    decidedAt: text('decided_at'),
  },
  (t) => [
    uniqueIndex('approval_tasks_unique_idx').on(t.requestId, t.level, t.approverId),
    // An approver's inbox, newest first, is read in index order.
    index('approval_tasks_approver_idx').on(t.approverId, t.state, t.createdAt),
    index('approval_tasks_decided_by_idx').on(t.decidedBy),
  ],
);

/** Approve/deny links are single use: the token id is recorded when it is spent. */
export const usedApprovalTokens = sqliteTable('used_approval_tokens', {
  tokenId: text('token_id').primaryKey(),
  requestId: text('request_id').notNull(),
  usedAt: text('used_at').notNull().default(now),
});

export const licensePools = sqliteTable('license_pools', {
  id: text().primaryKey(),
  product: text().notNull(),
  totalSeats: integer('total_seats').notNull(),
});

export const catalogItems = sqliteTable('catalog_items', {
  id: text().primaryKey(),
  name: text().notNull(),
  type: text({ enum: REQUEST_TYPES }).notNull(),
  description: text().notNull(),
  sensitivity: text({ enum: ['normal', 'sensitive'] })
    .notNull()
    .default('normal'),
  changeModel: text('change_model', { enum: CHANGE_MODELS }),
  packageId: text('package_id'),
  licensePoolId: text('license_pool_id').references(() => licensePools.id),
  /** Roles entitled to the item; null means everyone. */
  allowedRoles: text('allowed_roles', { mode: 'json' }).$type<string[] | null>(),
  // A plain column (no foreign key) so adding security groups needed no table rebuild.
  securityGroup: text('security_group'),
  /** Who approves, level by level; null: no approval (beyond the change model). */
  approvalPolicy: text('approval_policy', { mode: 'json' }).$type<ApprovalPolicy | null>(),
  serviceOwnerId: text('service_owner_id').references(() => users.id),
  fulfillmentGroupId: text('fulfillment_group_id').references(() => groups.id),
  launchUrl: text('launch_url'),
  /** Service level: targets for the whole request and for each human step (see domain/sla.ts). */
  sla: text({ mode: 'json' }).$type<SlaPolicy | null>(),
  /** A bundle orders these items together, one child request each (e.g. a new-starter kit). */
  bundle: text({ mode: 'json' }).$type<BundlePart[] | null>(),
  /** Resource items: what a unit costs, in cents (recorded on the purchase order). */
  unitCostCents: integer('unit_cost_cents'),
  formFields: text('form_fields', { mode: 'json' }).$type<FormField[]>().notNull().default([]),
  /** Continual improvement: the mean submit-to-fulfilled time the service aims for (e.g. "1h"). */
  fulfillmentTarget: text('fulfillment_target'),
  active: integer({ mode: 'boolean' }).notNull().default(true),
  /** Where the portal lists it. */
  category: text().notNull().default('General'),
  /** Other words people search with. */
  aliases: text({ mode: 'json' }).$type<string[] | null>(),
  /** Bumped by each catalog apply that changes the item; 0: never applied from the catalog files. */
  version: integer().notNull().default(0),
  /** The catalog file that defines it; null for an item the files never defined (then never retired by them). */
  source: text(),
  /** Access items: how long a grant may last (null: standing access, no accessUntil). */
  accessDuration: text('access_duration', { mode: 'json' }).$type<AccessDuration | null>(),
  /** Access items: a person deactivated in the directory loses the grant. */
  revokeOnLeave: integer('revoke_on_leave', { mode: 'boolean' }).notNull().default(false),
  /** Access items: a shorter policy for renewing a grant (null: the item's approval policy). */
  renewalApprovalPolicy: text('renewal_approval_policy', { mode: 'json' }).$type<ApprovalPolicy | null>(),
});

/**
 * Every version of an item as the catalog applied it. A request keeps the version it was
 * submitted against, and its workflow reads the policy and form of that version, so a change
 * to the files never alters a request in flight.
 */
export const catalogItemVersions = sqliteTable(
  'catalog_item_versions',
  {
    itemId: text('item_id')
      .notNull()
      .references(() => catalogItems.id),
    version: integer().notNull(),
    /** The item's row as of this version (without active, version and source). */
    snapshot: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    appliedBy: text('applied_by').notNull(),
    appliedAt: text('applied_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.itemId, t.version] })],
);

/** Deployment packages the catalog names, with the folder that holds their manifest and scripts. */
export const catalogPackages = sqliteTable('catalog_packages', {
  id: text().primaryKey(),
  name: text().notNull(),
  /** Absolute path of the package folder, resolved from the catalog file when applied. */
  folder: text().notNull(),
  active: integer({ mode: 'boolean' }).notNull().default(true),
});

export const requests = sqliteTable(
  'requests',
  {
    id: text().primaryKey(),
    type: text({ enum: REQUEST_TYPES }).notNull(),
    catalogItemId: text('catalog_item_id')
      .notNull()
      .references(() => catalogItems.id),
    /** The item's version when it was submitted (catalog_item_versions); null before versions existed. */
    catalogItemVersion: integer('catalog_item_version'),
    requesterId: text('requester_id')
      .notNull()
      .references(() => users.id),
    beneficiaryId: text('beneficiary_id')
      .notNull()
      .references(() => users.id),
    deviceId: text('device_id'),
    /** The bundle request this one is part of. */
    parentId: text('parent_id'),
    justification: text(),
    fields: text({ mode: 'json' }).$type<Record<string, string>>(),
    status: text({ enum: REQUEST_STATUSES }).notNull(),
    steps: text({ mode: 'json' }).$type<RequestStep[]>().notNull().default([]),
    /** What the request waits for right now, and on whom (null: nothing, or finished). */
    waitingOn: text('waiting_on', { mode: 'json' }).$type<WaitingOn | null>(),
    approvals: text({ mode: 'json' }).$type<Approval[]>().notNull().default([]),
    outcome: text({ mode: 'json' }).$type<RequestOutcome | null>(),
    /** Snapshot version from the workflow; a write with a lower version is ignored. */
    version: integer().notNull().default(0),
    /**
     * The workflow run that wrote the snapshot. An operator's reset starts a new run whose
     * versions begin again below the stored one, so a write from another run always lands.
     */
    runId: text('run_id'),
    idempotencyKey: text('idempotency_key'),
    /** Access requests: when the access asked for ends (ISO-8601 UTC); null: standing access. */
    accessUntil: text('access_until'),
    /** Access requests: the grant this request renews. */
    renewalOf: text('renewal_of'),
    /** Hash of the submitted body, to refuse an Idempotency-Key reused for a different request. */
    fingerprint: text().notNull(),
    createdAt: text('created_at').notNull().default(now),
    updatedAt: text('updated_at').notNull().default(now),
    fulfilledAt: text('fulfilled_at'),
  },
  (t) => [
    // Listings are newest first: each filter's index ends with the creation time, so the
    // first page is read in index order instead of sorting every matching request.
    index('requests_requester_idx').on(t.requesterId, t.createdAt),
    index('requests_beneficiary_idx').on(t.beneficiaryId, t.createdAt),
    index('requests_status_idx').on(t.status, t.createdAt),
    index('requests_created_idx').on(t.createdAt),
    // Every read of one request lists its bundle items (usually none): without it, a scan.
    index('requests_parent_idx').on(t.parentId),
  ],
);

export const licenseAssignments = sqliteTable(
  'license_assignments',
  {
    id: integer().primaryKey({ autoIncrement: true }),
    poolId: text('pool_id')
      .notNull()
      .references(() => licensePools.id),
    requestId: text('request_id').notNull(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    deviceId: text('device_id'),
    state: text({ enum: SEAT_STATES }).notNull(),
    reservedAt: text('reserved_at').notNull().default(now),
    assignedAt: text('assigned_at'),
    releasedAt: text('released_at'),
  },
  // One seat per request: a retried reservation finds the seat it already holds.
  (t) => [uniqueIndex('license_assignments_request_idx').on(t.poolId, t.requestId)],
);

export const changes = sqliteTable('changes', {
  id: text().primaryKey(),
  requestId: text('request_id').notNull().unique(),
  catalogItemId: text('catalog_item_id')
    .notNull()
    .references(() => catalogItems.id),
  model: text({ enum: CHANGE_MODELS }).notNull(),
  preAuthorized: integer('pre_authorized', { mode: 'boolean' }).notNull(),
  state: text({ enum: CHANGE_STATES }).notNull(),
  summary: text().notNull(),
  openedAt: text('opened_at').notNull().default(now),
  closedAt: text('closed_at'),
  closeNote: text('close_note'),
});

export const deploymentJobs = sqliteTable(
  'deployment_jobs',
  {
    id: text().primaryKey(),
    requestId: text('request_id').notNull(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id),
    packageId: text('package_id').notNull(),
    action: text({ enum: JOB_ACTIONS }).notNull(),
    attempt: integer().notNull(),
    state: text({ enum: JOB_STATES }).notNull(),
    exitCode: integer('exit_code'),
    outcome: text(),
    outputTail: text('output_tail'),
    queuedAt: text('queued_at').notNull().default(now),
    startedAt: text('started_at'),
    finishedAt: text('finished_at'),
    /** W3C `traceparent` of the activity that queued the job, when tracing is on: the agent's run joins that trace. */
    traceParent: text('trace_parent'),
  },
  (t) => [
    uniqueIndex('deployment_jobs_attempt_idx').on(t.requestId, t.action, t.attempt),
    index('deployment_jobs_device_idx').on(t.deviceId, t.state),
  ],
);

export const cmdbCis = sqliteTable(
  'cmdb_cis',
  {
    id: text().primaryKey(),
    ciClass: text('class', { enum: ['computer', 'software_install', 'hardware_asset'] }).notNull(),
    name: text().notNull(),
    attributes: text({ mode: 'json' }).$type<Record<string, string | number | boolean | null>>().notNull(),
    createdAt: text('created_at').notNull().default(now),
    updatedAt: text('updated_at').notNull().default(now),
  },
  (t) => [index('cmdb_cis_class_idx').on(t.ciClass)],
);

export const cmdbRelationships = sqliteTable(
  'cmdb_relationships',
  {
    id: integer().primaryKey({ autoIncrement: true }),
    sourceCiId: text('source_ci_id')
      .notNull()
      .references(() => cmdbCis.id),
    targetCiId: text('target_ci_id')
      .notNull()
      .references(() => cmdbCis.id),
    type: text({ enum: ['installed_on', 'used_by'] }).notNull(),
    requestId: text('request_id'),
    createdAt: text('created_at').notNull().default(now),
  },
  (t) => [uniqueIndex('cmdb_relationships_unique_idx').on(t.sourceCiId, t.targetCiId, t.type)],
);

export const notifications = sqliteTable('notifications', {
  id: integer().primaryKey({ autoIncrement: true }),
  /** Idempotency key (request id and step): a retried activity never notifies twice. */
  key: text().notNull().unique(),
  requestId: text('request_id'),
  recipientId: text('recipient_id')
    .notNull()
    .references(() => users.id),
  subject: text().notNull(),
  body: text().notNull(),
  links: text({ mode: 'json' }).$type<Record<string, string>>().notNull().default({}),
  status: text({ enum: ['pending', 'sent', 'failed'] })
    .notNull()
    .default('pending'),
  attempts: integer().notNull().default(0),
  /** When a pending row may be (re)tried: the retry backoff, and the lease of a send in flight. */
  nextAttemptAt: text('next_attempt_at'),
  lastError: text('last_error'),
  createdAt: text('created_at').notNull().default(now),
  sentAt: text('sent_at'),
});

export const tasks = sqliteTable(
  'tasks',
  {
    id: text().primaryKey(),
    key: text().notNull().unique(),
    requestId: text('request_id'),
    groupId: text('group_id')
      .notNull()
      .references(() => groups.id),
    title: text().notNull(),
    description: text().notNull(),
    state: text({ enum: TASK_STATES }).notNull().default('open'),
    /** Outcomes a person may choose when completing (e.g. ["done","not_possible"]); null: any. */
    outcomes: text({ mode: 'json' }).$type<string[] | null>(),
    /** The request workflow waits for this task: completion goes to it as an update. */
    awaitedBy: text('awaited_by'),
    assigneeId: text('assignee_id').references(() => users.id),
    outcome: text(),
    /** What the person who completed it wrote (an answer, a reason). */
    resolution: text(),
    completedBy: text('completed_by'),
    createdAt: text('created_at').notNull().default(now),
    completedAt: text('completed_at'),
  },
  (t) => [index('tasks_group_idx').on(t.groupId, t.state)],
);

export const taskComments = sqliteTable(
  'task_comments',
  {
    id: integer().primaryKey({ autoIncrement: true }),
    taskId: text('task_id')
      .notNull()
      .references(() => tasks.id),
    authorId: text('author_id')
      .notNull()
      .references(() => users.id),
    body: text().notNull(),
    createdAt: text('created_at').notNull().default(now),
  },
  (t) => [index('task_comments_task_idx').on(t.taskId)],
);

/** Business services people give feedback on, each with the owner who answers for it. */
export const services = sqliteTable('services', {
  id: text().primaryKey(),
  name: text().notNull(),
  /** Other names people use for it, space-separated, lower case (matched when routing feedback). */
  aliases: text().notNull().default(''),
  ownerId: text('owner_id')
    .notNull()
    .references(() => users.id),
});

/** The conversation on a request: its requester, beneficiary and fulfillers write here. */
export const requestComments = sqliteTable(
  'request_comments',
  {
    id: integer().primaryKey({ autoIncrement: true }),
    requestId: text('request_id')
      .notNull()
      .references(() => requests.id),
    authorId: text('author_id')
      .notNull()
      .references(() => users.id),
    body: text().notNull(),
    createdAt: text('created_at').notNull().default(now),
  },
  (t) => [index('request_comments_request_idx').on(t.requestId)],
);

/** One satisfaction answer per fulfilled request: a 1-5 score and an optional comment. */
export const surveyResponses = sqliteTable('survey_responses', {
  requestId: text('request_id')
    .primaryKey()
    .references(() => requests.id),
  respondentId: text('respondent_id')
    .notNull()
    .references(() => users.id),
  score: integer().notNull(),
  comment: text(),
  createdAt: text('created_at').notNull().default(now),
});

/** Purchase orders placed for resource requests. One per request; cancelled with it. */
export const procurementOrders = sqliteTable('procurement_orders', {
  id: text().primaryKey(),
  requestId: text('request_id').notNull().unique(),
  item: text().notNull(),
  costCents: integer('cost_cents').notNull(),
  currency: text().notNull().default('EUR'),
  state: text({ enum: ['ordered', 'shipped', 'delivered', 'cancelled'] }).notNull(),
  assetTag: text('asset_tag'),
  createdAt: text('created_at').notNull().default(now),
  updatedAt: text('updated_at').notNull().default(now),
});

/** Knowledge base; searched through the FTS5 table `knowledge_fts` (see migration 0005). */
export const knowledgeArticles = sqliteTable('knowledge_articles', {
  /** The FTS index refers to rows by this integer key, which (unlike a plain rowid) survives VACUUM. */
  seq: integer().primaryKey({ autoIncrement: true }),
  id: text().notNull().unique(),
  title: text().notNull(),
  body: text().notNull(),
  tags: text().notNull().default(''),
  updatedAt: text('updated_at').notNull().default(now),
});

/** Append-only; each entry's hash covers the previous entry's hash. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    seq: integer().primaryKey(),
    /** Idempotency key, so a retried activity appends once. */
    key: text().notNull().unique(),
    at: text().notNull(),
    actor: text().notNull(),
    action: text().notNull(),
    requestId: text('request_id'),
    subject: text(),
    details: text({ mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text().notNull(),
  },
  (t) => [index('audit_log_request_idx').on(t.requestId)],
);

/**
 * Monthly fulfillment reports (continual improvement), one per calendar month; a rerun
 * or an operator's backfill of the same month replaces it with the same figures.
 */
export const reports = sqliteTable('reports', {
  id: text().primaryKey(),
  /** The month reported on, `YYYY-MM` (UTC). */
  period: text().notNull().unique(),
  periodFrom: text('period_from').notNull(),
  periodTo: text('period_to').notNull(),
  /** Figures and comparisons with targets; the shape is metrics/report.ts's MonthlyReport. */
  body: text({ mode: 'json' }).$type<unknown>().notNull(),
  /** `schedule` or the operator who asked for it. */
  generatedBy: text('generated_by').notNull(),
  generatedAt: text('generated_at').notNull(),
  workflowId: text('workflow_id').notNull(),
});

/**
 * Every access grant with its lifecycle, written by the access aggregate alone (access/grants.ts)
 * together with the membership it holds. `id` is the request that asked for it.
 */
export const accessGrants = sqliteTable(
  'access_grants',
  {
    id: text().primaryKey(),
    requestId: text('request_id'),
    groupId: text('group_id')
      .notNull()
      .references(() => securityGroups.id),
    userId: text('user_id')
      .notNull()
      .references(() => users.id),
    catalogItemId: text('catalog_item_id'),
    /** Who approved (the deciders of every level), when, and why it was asked for. */
    approvedBy: text('approved_by', { mode: 'json' }).$type<string[]>().notNull().default([]),
    approvedAt: text('approved_at'),
    justification: text(),
    approvalAuditSeq: integer('approval_audit_seq'),
    /** The `access.granted` audit entry; a revocation's entry points at it. */
    grantAuditSeq: integer('grant_audit_seq'),
    grantedAt: text('granted_at').notNull(),
    /** ISO-8601 UTC; null: standing access. */
    until: text(),
    /** The catalog said so when it was granted: a deactivated person loses it. */
    revokeOnLeave: integer('revoke_on_leave', { mode: 'boolean' }).notNull().default(false),
    /** The grant this one renewed. */
    renewalOf: text('renewal_of'),
    endedAt: text('ended_at'),
    endReason: text('end_reason', { enum: GRANT_END_REASONS }),
    endedBy: text('ended_by'),
    endComment: text('end_comment'),
    endAuditSeq: integer('end_audit_seq'),
  },
  (t) => [
    index('access_grants_user_idx').on(t.userId),
    index('access_grants_group_idx').on(t.groupId),
    index('access_grants_until_idx').on(t.until),
  ],
);

/** Access review (certification) campaigns, written by the access reviews module (access/reviews.ts). */
export const accessReviewCampaigns = sqliteTable('access_review_campaigns', {
  id: text().primaryKey(),
  /** The security groups under review. */
  groups: text({ mode: 'json' }).$type<string[]>().notNull(),
  deadline: text().notNull(),
  policy: text({ enum: REVIEW_DEADLINE_POLICIES }).notNull(),
  startedBy: text('started_by').notNull(),
  startedAt: text('started_at').notNull(),
  /** The Temporal Schedule that started it, if one did. */
  scheduleId: text('schedule_id'),
  state: text({ enum: CAMPAIGN_STATES }).notNull().default('running'),
  completedAt: text('completed_at'),
});

/** One holder's grant under review in a campaign, with its reviewer's decision and what came of it. */
export const accessReviewItems = sqliteTable(
  'access_review_items',
  {
    id: integer().primaryKey({ autoIncrement: true }),
    campaignId: text('campaign_id')
      .notNull()
      .references(() => accessReviewCampaigns.id),
    grantId: text('grant_id')
      .notNull()
      .references(() => accessGrants.id),
    groupId: text('group_id').notNull(),
    userId: text('user_id').notNull(),
    reviewerId: text('reviewer_id').notNull(),
    decision: text({ enum: REVIEW_DECISIONS }),
    decidedBy: text('decided_by'),
    comment: text(),
    decidedAt: text('decided_at'),
    outcome: text({ enum: REVIEW_OUTCOMES }),
    auditSeq: integer('audit_seq'),
  },
  (t) => [
    uniqueIndex('access_review_items_unique_idx').on(t.campaignId, t.grantId),
    index('access_review_items_reviewer_idx').on(t.reviewerId, t.campaignId),
  ],
);
