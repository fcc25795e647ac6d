CREATE TABLE `zone_changes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`serial` integer,
	`name` text NOT NULL,
	`old_mode` integer,
	`old_last_ip` text,
	`old_last_ipv4` text,
	`old_last_ipv6` text,
	`old_dns_challenge` text,
	`new_mode` integer,
	`new_last_ip` text,
	`new_last_ipv4` text,
	`new_last_ipv6` text,
	`new_dns_challenge` text
);
--> statement-breakpoint
CREATE INDEX `zone_changes_serial` ON `zone_changes` (`serial`);--> statement-breakpoint
CREATE INDEX `zone_changes_unpublished` ON `zone_changes` (`name`,`id`) WHERE "zone_changes"."serial" IS NULL;--> statement-breakpoint
CREATE TABLE `zone_changesets` (
	`serial` integer PRIMARY KEY NOT NULL,
	`previous` integer NOT NULL,
	`created` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `zone_changesets_previous` ON `zone_changesets` (`previous`);--> statement-breakpoint
CREATE TABLE `zone_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`serial` integer NOT NULL,
	`fingerprint` text NOT NULL,
	CONSTRAINT "zone_state_one_row" CHECK("zone_state"."id" = 1)
);
