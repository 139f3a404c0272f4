CREATE TABLE `catalog_item_versions` (
	`item_id` text NOT NULL,
	`version` integer NOT NULL,
	`snapshot` text NOT NULL,
	`applied_by` text NOT NULL,
	`applied_at` text NOT NULL,
	PRIMARY KEY(`item_id`, `version`),
	FOREIGN KEY (`item_id`) REFERENCES `catalog_items`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `catalog_packages` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`folder` text NOT NULL,
	`active` integer DEFAULT true NOT NULL
);
--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `category` text DEFAULT 'General' NOT NULL;--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `aliases` text;--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `catalog_items` ADD `source` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `catalog_item_version` integer;