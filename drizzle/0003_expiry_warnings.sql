ALTER TABLE `domains` ADD `warned_for` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `domains` ADD `keep_token` text(36) DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `domains` ADD `keep_expires` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `domains_keep_token` ON `domains` (`keep_token`) WHERE "domains"."keep_token" <> '';