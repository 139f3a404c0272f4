CREATE TABLE `device_enrollments` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`owner_id` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`device_id` text,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `device_enrollments_token_hash_unique` ON `device_enrollments` (`token_hash`);--> statement-breakpoint
ALTER TABLE `devices` ADD `hostname` text;--> statement-breakpoint
ALTER TABLE `devices` ADD `enrolled_at` text;--> statement-breakpoint
ALTER TABLE `devices` ADD `unenrolled_at` text;--> statement-breakpoint
ALTER TABLE `groups` ADD `external_id` text;--> statement-breakpoint
ALTER TABLE `groups` ADD `scim_managed` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `groups` ADD `created_at` text;--> statement-breakpoint
ALTER TABLE `groups` ADD `updated_at` text;--> statement-breakpoint
CREATE UNIQUE INDEX `groups_external_id_idx` ON `groups` (`external_id`);--> statement-breakpoint
-- Existing people keep their id as their userName until the directory says otherwise.
ALTER TABLE `users` ADD `user_name` text NOT NULL DEFAULT '';--> statement-breakpoint
UPDATE `users` SET `user_name` = `id`;--> statement-breakpoint
ALTER TABLE `users` ADD `external_id` text;--> statement-breakpoint
ALTER TABLE `users` ADD `removed_at` text;--> statement-breakpoint
ALTER TABLE `users` ADD `created_at` text;--> statement-breakpoint
ALTER TABLE `users` ADD `updated_at` text;--> statement-breakpoint
CREATE UNIQUE INDEX `users_user_name_idx` ON `users` (lower("user_name"));--> statement-breakpoint
CREATE UNIQUE INDEX `users_external_id_idx` ON `users` (`external_id`);