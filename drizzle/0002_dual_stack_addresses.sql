ALTER TABLE `domains` ADD `last_ipv4` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `domains` ADD `last_ipv6` text DEFAULT '' NOT NULL;--> statement-breakpoint
-- Filled from last_ip by its family; an IPv4 address seen as ::ffff:a.b.c.d (a Rust-era row) counts as IPv4.
UPDATE `domains` SET `last_ipv4` = CASE WHEN lower(`last_ip`) LIKE '::ffff:%.%' THEN substr(`last_ip`, 8) ELSE `last_ip` END WHERE `last_ip` LIKE '%.%';--> statement-breakpoint
UPDATE `domains` SET `last_ipv6` = lower(`last_ip`) WHERE `last_ip` LIKE '%:%' AND `last_ip` NOT LIKE '%.%';
