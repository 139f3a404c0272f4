ALTER TABLE `catalog_items` ADD `sla` text;--> statement-breakpoint
ALTER TABLE `requests` ADD `waiting_on` text;