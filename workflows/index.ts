// The worker's workflowsPath: every workflow type, and nothing else.
export { accessRequest } from './access.js';
export { bundleRequest } from './bundle.js';
export { feedbackRequest } from './feedback.js';
export { informationRequest } from './information.js';
export { monthlyReport } from './monthly-report.js';
export { resourceRequest } from './resource.js';
export { standardServiceRequest } from './standard-service.js';
export { accessGrantTimer } from './access-grant.js';
export { accessReviewCampaign, accessReviewerTasks } from './access-review.js';
export { workerWarmUp } from './warm-up.js';
