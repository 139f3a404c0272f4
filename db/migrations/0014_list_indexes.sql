DROP INDEX `approval_tasks_approver_idx`;--> statement-breakpoint
CREATE INDEX `approval_tasks_decided_by_idx` ON `approval_tasks` (`decided_by`);--> statement-breakpoint
CREATE INDEX `approval_tasks_approver_idx` ON `approval_tasks` (`approver_id`,`state`,`created_at`);--> statement-breakpoint
DROP INDEX `requests_requester_idx`;--> statement-breakpoint
DROP INDEX `requests_beneficiary_idx`;--> statement-breakpoint
DROP INDEX `requests_status_idx`;--> statement-breakpoint
CREATE INDEX `requests_created_idx` ON `requests` (`created_at`);--> statement-breakpoint
CREATE INDEX `requests_requester_idx` ON `requests` (`requester_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `requests_beneficiary_idx` ON `requests` (`beneficiary_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `requests_status_idx` ON `requests` (`status`,`created_at`);