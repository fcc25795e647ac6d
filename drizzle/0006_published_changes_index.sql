DROP INDEX `zone_changes_serial`;--> statement-breakpoint
CREATE INDEX `zone_changes_serial` ON `zone_changes` (`serial`) WHERE "zone_changes"."serial" IS NOT NULL;