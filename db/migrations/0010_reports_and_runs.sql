CREATE TABLE `reports` (
	`id` text PRIMARY KEY NOT NULL,
	`period` text NOT NULL,
	`period_from` text NOT NULL,
	`period_to` text NOT NULL,
	`body` text NOT NULL,
	`generated_by` text NOT NULL,
	`generated_at` text NOT NULL,
	`workflow_id` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reports_period_unique` ON `reports` (`period`);--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `fulfillment_target` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `run_id` text;