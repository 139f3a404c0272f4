CREATE INDEX `group_members_user_idx` ON `group_members` (`user_id`);--> statement-breakpoint
CREATE INDEX `requests_parent_idx` ON `requests` (`parent_id`);