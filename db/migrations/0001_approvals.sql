CREATE TABLE `approval_tasks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`request_id` text NOT NULL,
	`level` integer NOT NULL,
	`approver_id` text NOT NULL,
	`state` text NOT NULL,
	`decided_by` text,
	`comment` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`decided_at` text,
	FOREIGN KEY (`approver_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `approval_tasks_unique_idx` ON `approval_tasks` (`request_id`,`level`,`approver_id`);--> statement-breakpoint
CREATE INDEX `approval_tasks_approver_idx` ON `approval_tasks` (`approver_id`,`state`);--> statement-breakpoint
CREATE TABLE `delegations` (
	`user_id` text PRIMARY KEY NOT NULL,
	`delegate_id` text NOT NULL,
	`until` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`delegate_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `security_group_members` (
	`group_id` text NOT NULL,
	`user_id` text NOT NULL,
	`request_id` text,
	`approval_audit_seq` integer,
	`added_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	PRIMARY KEY(`group_id`, `user_id`),
	FOREIGN KEY (`group_id`) REFERENCES `security_groups`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `security_groups` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `used_approval_tokens` (
	`token_id` text PRIMARY KEY NOT NULL,
	`request_id` text NOT NULL,
	`used_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `approval_policy` text;--> statement-breakpoint
ALTER TABLE `notifications` ADD `attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `notifications` ADD `last_error` text;