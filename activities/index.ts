import { createAccessActivities } from './access.js';
import { createAccessReviewActivities } from './access-reviews.js';
import { createApprovalActivities } from './approval.js';
import { createAuditActivities } from './audit.js';
import { createChangeActivities } from './change.js';
import { createCmdbActivities } from './cmdb.js';
import type { ActivityDeps } from './deps.js';
import { createDeploymentActivities } from './deployment.js';
import { createEntitlementActivities } from './entitlement.js';
import { createFeedbackActivities } from './feedback.js';
import { createKnowledgeActivities } from './knowledge.js';
import { createLicenseActivities } from './license.js';
import { createNotifyActivities } from './notify.js';
import { createProcurementActivities } from './procurement.js';
import { createReportActivities } from './reports.js';
import { createRequestActivities } from './requests.js';
import { createSurveyActivities } from './surveys.js';
import { createTaskActivities } from './tasks.js';
import { createWarmUpActivities } from './warm-up.js';

export type { ActivityDeps } from './deps.js';

/** All activities, built over their dependencies; workflows proxy `ReturnType<typeof createActivities>`. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createEntitlementActivities(deps),
    ...createLicenseActivities(deps),
    ...createChangeActivities(deps),
    ...createDeploymentActivities(deps),
    ...createCmdbActivities(deps),
    ...createNotifyActivities(deps),
    ...createTaskActivities(deps),
    ...createAuditActivities(deps),
    ...createRequestActivities(deps),
    ...createApprovalActivities(deps),
    ...createAccessActivities(deps),
    ...createAccessReviewActivities(deps),
    ...createKnowledgeActivities(deps),
    ...createProcurementActivities(deps),
    ...createFeedbackActivities(deps),
    ...createSurveyActivities(deps),
    ...createReportActivities(deps),
    ...createWarmUpActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
