ALTER TABLE `catalog_items` ADD `bundle` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `parent_id` text;