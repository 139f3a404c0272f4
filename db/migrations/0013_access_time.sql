CREATE TABLE `access_grants` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text,
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	`catalog_item_id` text,
	`approved_by` text DEFAULT '[]' NOT NULL,
	`approved_at` text,
	`justification` text,
	`approval_audit_seq` integer,
	`grant_audit_seq` integer,
	`granted_at` text NOT NULL,
	`until` text,
	`revoke_on_leave` integer DEFAULT false NOT NULL,
	`renewal_of` text,
	`ended_at` text,
	`end_reason` text,
	`ended_by` text,
	`end_comment` text,
	`end_audit_seq` integer,
	FOREIGN KEY (`group_id`) REFERENCES `security_groups`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `access_grants_user_idx` ON `access_grants` (`user_id`);--> statement-breakpoint
CREATE INDEX `access_grants_group_idx` ON `access_grants` (`group_id`);--> statement-breakpoint
CREATE INDEX `access_grants_until_idx` ON `access_grants` (`until`);--> statement-breakpoint
CREATE TABLE `access_review_campaigns` (
	`id` text PRIMARY KEY NOT NULL,
	`groups` text NOT NULL,
	`deadline` text NOT NULL,
	`policy` text NOT NULL,
	`started_by` text NOT NULL,
	`started_at` text NOT NULL,
	`schedule_id` text,
	`state` text DEFAULT 'running' NOT NULL,
	`completed_at` text
);
--> statement-breakpoint
CREATE TABLE `access_review_items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`campaign_id` text NOT NULL,
	`grant_id` text NOT NULL,
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	`reviewer_id` text NOT NULL,
	`decision` text,
	`decided_by` text,
	`comment` text,
	`decided_at` text,
	`outcome` text,
	`audit_seq` integer,
	FOREIGN KEY (`campaign_id`) REFERENCES `access_review_campaigns`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`grant_id`) REFERENCES `access_grants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `access_review_items_unique_idx` ON `access_review_items` (`campaign_id`,`grant_id`);--> statement-breakpoint
CREATE INDEX `access_review_items_reviewer_idx` ON `access_review_items` (`reviewer_id`,`campaign_id`);--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `access_duration` text;--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `revoke_on_leave` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `renewal_approval_policy` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `access_until` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `renewal_of` text;--> statement-breakpoint
-- Memberships granted before grants were records become standing grants, so every member has one.
INSERT INTO `access_grants` (`id`, `request_id`, `group_id`, `user_id`, `approval_audit_seq`, `granted_at`)
SELECT coalesce(`request_id`, 'GRANT-' || `group_id` || '-' || `user_id`), `request_id`, `group_id`, `user_id`, `approval_audit_seq`, `added_at`
FROM `security_group_members`;
