import * as pg from './pg-schema.js';
import * as sqlite from './sqlite-schema.js';
import { isPostgresUrl } from './url.js';

/*
 * The tables the code imports (`import * as t from '../db/schema.js'`). There is one typed
 * surface, SQLite's: the queries are written once, against it. Which tables are behind it is
 * decided once, when this module loads, by the driver the process will use: DATABASE_URL
 * naming PostgreSQL binds every name to the pg-core table of the same shape (pg-schema.ts),
 * anything else to the SQLite table. drizzle builds SQL from the table object, so the same
 * query then speaks the right dialect; the types stay SQLite's, which is why the two schemas
 * must keep the same columns (test/postgres.test.ts compares their catalogs).
 *
 * A process uses one database: connectDatabase refuses a DATABASE_URL that does not match
 * what this module bound at load.
 */

export type { BundlePart, FormField } from './column-types.js';

/** Which schema this process bound at load. */
export const schemaDialect: 'sqlite' | 'postgres' = isPostgresUrl(process.env.DATABASE_URL)
  ? 'postgres'
  : 'sqlite';

// Both modules must export the same table names; the compiler checks it both ways here.
const pgTables: Record<keyof typeof sqlite, unknown> = pg;
const sqliteTables: Record<keyof typeof pg, unknown> = sqlite;
void sqliteTables;

const bound = (schemaDialect === 'postgres' ? pgTables : sqlite) as typeof sqlite;

export const roles = bound.roles;
export const users = bound.users;
export const groups = bound.groups;
export const groupMembers = bound.groupMembers;
export const devices = bound.devices;
export const deviceEnrollments = bound.deviceEnrollments;
export const securityGroups = bound.securityGroups;
export const securityGroupMembers = bound.securityGroupMembers;
export const delegations = bound.delegations;
export const approvalTasks = bound.approvalTasks;
export const usedApprovalTokens = bound.usedApprovalTokens;
export const licensePools = bound.licensePools;
export const catalogItems = bound.catalogItems;
export const catalogItemVersions = bound.catalogItemVersions;
export const catalogPackages = bound.catalogPackages;
export const requests = bound.requests;
export const licenseAssignments = bound.licenseAssignments;
export const changes = bound.changes;
export const deploymentJobs = bound.deploymentJobs;
export const cmdbCis = bound.cmdbCis;
export const cmdbRelationships = bound.cmdbRelationships;
export const notifications = bound.notifications;
export const tasks = bound.tasks;
export const taskComments = bound.taskComments;
export const services = bound.services;
export const requestComments = bound.requestComments;
export const surveyResponses = bound.surveyResponses;
export const procurementOrders = bound.procurementOrders;
export const knowledgeArticles = bound.knowledgeArticles;
export const auditLog = bound.auditLog;
export const reports = bound.reports;
export const accessGrants = bound.accessGrants;
export const accessReviewCampaigns = bound.accessReviewCampaigns;
export const accessReviewItems = bound.accessReviewItems;
