CREATE TABLE `audit_log` (
	`seq` integer PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`at` text NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`request_id` text,
	`subject` text,
	`details` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_log_key_unique` ON `audit_log` (`key`);--> statement-breakpoint
CREATE INDEX `audit_log_request_idx` ON `audit_log` (`request_id`);--> statement-breakpoint
CREATE TABLE `catalog_items` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`description` text NOT NULL,
	`sensitivity` text DEFAULT 'normal' NOT NULL,
	`change_model` text,
	`package_id` text,
	`license_pool_id` text,
	`allowed_roles` text,
	`security_group` text,
	`service_owner_id` text,
	`fulfillment_group_id` text,
	`launch_url` text,
	`form_fields` text DEFAULT '[]' NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	FOREIGN KEY (`license_pool_id`) REFERENCES `license_pools`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`service_owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`fulfillment_group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `changes` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`catalog_item_id` text NOT NULL,
	`model` text NOT NULL,
	`pre_authorized` integer NOT NULL,
	`state` text NOT NULL,
	`summary` text NOT NULL,
	`opened_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`closed_at` text,
	`close_note` text,
	FOREIGN KEY (`catalog_item_id`) REFERENCES `catalog_items`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `changes_request_id_unique` ON `changes` (`request_id`);--> statement-breakpoint
CREATE TABLE `cmdb_cis` (
	`id` text PRIMARY KEY NOT NULL,
	`class` text NOT NULL,
	`name` text NOT NULL,
	`attributes` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cmdb_cis_class_idx` ON `cmdb_cis` (`class`);--> statement-breakpoint
CREATE TABLE `cmdb_relationships` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source_ci_id` text NOT NULL,
	`target_ci_id` text NOT NULL,
	`type` text NOT NULL,
	`request_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`source_ci_id`) REFERENCES `cmdb_cis`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`target_ci_id`) REFERENCES `cmdb_cis`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cmdb_relationships_unique_idx` ON `cmdb_relationships` (`source_ci_id`,`target_ci_id`,`type`);--> statement-breakpoint
CREATE TABLE `deployment_jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`device_id` text NOT NULL,
	`package_id` text NOT NULL,
	`action` text NOT NULL,
	`attempt` integer NOT NULL,
	`state` text NOT NULL,
	`exit_code` integer,
	`outcome` text,
	`output_tail` text,
	`queued_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`started_at` text,
	`finished_at` text,
	FOREIGN KEY (`device_id`) REFERENCES `devices`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deployment_jobs_attempt_idx` ON `deployment_jobs` (`request_id`,`action`,`attempt`);--> statement-breakpoint
CREATE INDEX `deployment_jobs_device_idx` ON `deployment_jobs` (`device_id`,`state`);--> statement-breakpoint
CREATE TABLE `devices` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`owner_id` text NOT NULL,
	`platform` text NOT NULL,
	`token_hash` text,
	`last_seen_at` text,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `group_members` (
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	PRIMARY KEY(`group_id`, `user_id`),
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `groups` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `license_assignments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`pool_id` text NOT NULL,
	`request_id` text NOT NULL,
	`user_id` text NOT NULL,
	`device_id` text,
	`state` text NOT NULL,
	`reserved_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`assigned_at` text,
	`released_at` text,
	FOREIGN KEY (`pool_id`) REFERENCES `license_pools`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `license_assignments_request_idx` ON `license_assignments` (`pool_id`,`request_id`);--> statement-breakpoint
CREATE TABLE `license_pools` (
	`id` text PRIMARY KEY NOT NULL,
	`product` text NOT NULL,
	`total_seats` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`request_id` text,
	`recipient_id` text NOT NULL,
	`subject` text NOT NULL,
	`body` text NOT NULL,
	`links` text DEFAULT '{}' NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`sent_at` text,
	FOREIGN KEY (`recipient_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notifications_key_unique` ON `notifications` (`key`);--> statement-breakpoint
CREATE TABLE `requests` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`catalog_item_id` text NOT NULL,
	`requester_id` text NOT NULL,
	`beneficiary_id` text NOT NULL,
	`device_id` text,
	`justification` text,
	`fields` text,
	`status` text NOT NULL,
	`steps` text DEFAULT '[]' NOT NULL,
	`approvals` text DEFAULT '[]' NOT NULL,
	`outcome` text,
	`version` integer DEFAULT 0 NOT NULL,
	`idempotency_key` text,
	`fingerprint` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`fulfilled_at` text,
	FOREIGN KEY (`catalog_item_id`) REFERENCES `catalog_items`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`requester_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`beneficiary_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `requests_requester_idx` ON `requests` (`requester_id`);--> statement-breakpoint
CREATE INDEX `requests_beneficiary_idx` ON `requests` (`beneficiary_id`);--> statement-breakpoint
CREATE INDEX `requests_status_idx` ON `requests` (`status`);--> statement-breakpoint
CREATE TABLE `roles` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`key` text NOT NULL,
	`request_id` text,
	`group_id` text NOT NULL,
	`title` text NOT NULL,
	`description` text NOT NULL,
	`state` text DEFAULT 'open' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`completed_at` text,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tasks_key_unique` ON `tasks` (`key`);--> statement-breakpoint
CREATE INDEX `tasks_group_idx` ON `tasks` (`group_id`,`state`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`email` text NOT NULL,
	`role_id` text NOT NULL,
	`manager_id` text,
	`active` integer DEFAULT true NOT NULL,
	FOREIGN KEY (`role_id`) REFERENCES `roles`(`id`) ON UPDATE no action ON DELETE no action
);
