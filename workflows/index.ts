// The worker's workflowsPath: every workflow type, and nothing else.
export { standardServiceRequest } from './standard-service.js';
