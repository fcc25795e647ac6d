-- The change journal is written by SQLite itself, so every writer is caught: the API's group
-- commit, the expiry's worker connection, the command line in another process. A row gets a
-- zone_changes entry (serial NULL: not yet published) when it appears, goes, or changes a
-- column DNS answers from; an update that leaves them as they were adds nothing.
-- A later migration that drops one of these columns must drop the triggers first (SQLite refuses).
CREATE TRIGGER `zone_changes_after_insert` AFTER INSERT ON `domains`
BEGIN
  INSERT INTO `zone_changes` (`name`, `new_mode`, `new_last_ip`, `new_last_ipv4`, `new_last_ipv6`, `new_dns_challenge`)
  VALUES (NEW.`name`, NEW.`mode`, NEW.`last_ip`, NEW.`last_ipv4`, NEW.`last_ipv6`, NEW.`dns_challenge`);
END;
--> statement-breakpoint
CREATE TRIGGER `zone_changes_after_delete` AFTER DELETE ON `domains`
BEGIN
  INSERT INTO `zone_changes` (`name`, `old_mode`, `old_last_ip`, `old_last_ipv4`, `old_last_ipv6`, `old_dns_challenge`)
  VALUES (OLD.`name`, OLD.`mode`, OLD.`last_ip`, OLD.`last_ipv4`, OLD.`last_ipv6`, OLD.`dns_challenge`);
END;
--> statement-breakpoint
CREATE TRIGGER `zone_changes_after_update` AFTER UPDATE OF `mode`, `last_ip`, `last_ipv4`, `last_ipv6`, `dns_challenge` ON `domains`
WHEN OLD.`name` IS NEW.`name` AND (OLD.`mode` IS NOT NEW.`mode` OR OLD.`last_ip` IS NOT NEW.`last_ip` OR OLD.`last_ipv4` IS NOT NEW.`last_ipv4`
  OR OLD.`last_ipv6` IS NOT NEW.`last_ipv6` OR OLD.`dns_challenge` IS NOT NEW.`dns_challenge`)
BEGIN
  INSERT INTO `zone_changes` (`name`, `old_mode`, `old_last_ip`, `old_last_ipv4`, `old_last_ipv6`, `old_dns_challenge`,
    `new_mode`, `new_last_ip`, `new_last_ipv4`, `new_last_ipv6`, `new_dns_challenge`)
  VALUES (NEW.`name`, OLD.`mode`, OLD.`last_ip`, OLD.`last_ipv4`, OLD.`last_ipv6`, OLD.`dns_challenge`,
    NEW.`mode`, NEW.`last_ip`, NEW.`last_ipv4`, NEW.`last_ipv6`, NEW.`dns_challenge`);
END;
--> statement-breakpoint
-- Nothing renames a domain today; if something does, the old name goes and the new one appears.
CREATE TRIGGER `zone_changes_after_rename` AFTER UPDATE OF `name` ON `domains`
WHEN OLD.`name` IS NOT NEW.`name`
BEGIN
  INSERT INTO `zone_changes` (`name`, `old_mode`, `old_last_ip`, `old_last_ipv4`, `old_last_ipv6`, `old_dns_challenge`)
  VALUES (OLD.`name`, OLD.`mode`, OLD.`last_ip`, OLD.`last_ipv4`, OLD.`last_ipv6`, OLD.`dns_challenge`);
  INSERT INTO `zone_changes` (`name`, `new_mode`, `new_last_ip`, `new_last_ipv4`, `new_last_ipv6`, `new_dns_challenge`)
  VALUES (NEW.`name`, NEW.`mode`, NEW.`last_ip`, NEW.`last_ipv4`, NEW.`last_ipv6`, NEW.`dns_challenge`);
END;
