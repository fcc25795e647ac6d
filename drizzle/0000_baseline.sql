CREATE TABLE `accounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email` text(254) NOT NULL,
	`optout` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_email_unique` ON `accounts` (`email`);--> statement-breakpoint
CREATE TABLE `domains` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text(253) NOT NULL,
	`account_id` integer NOT NULL,
	`token` text(36) NOT NULL,
	`description` text NOT NULL,
	`timestamp` integer NOT NULL,
	`dns_challenge` text DEFAULT '' NOT NULL,
	`reclamation_token` text(36) DEFAULT '' NOT NULL,
	`verification_token` text(36) DEFAULT '' NOT NULL,
	`verified` integer DEFAULT false NOT NULL,
	`continent` text(2) DEFAULT '' NOT NULL,
	`mode` integer DEFAULT 0 NOT NULL,
	`last_ip` text DEFAULT '' NOT NULL,
	`reclamation_expires` integer DEFAULT 0 NOT NULL,
	`verification_expires` integer DEFAULT 0 NOT NULL,
	`pending_email` text DEFAULT '' NOT NULL,
	`pending_optout` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE cascade ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `domains_name_unique` ON `domains` (`name`);--> statement-breakpoint
CREATE INDEX `domains_token` ON `domains` (`token`);--> statement-breakpoint
CREATE INDEX `domains_timestamp` ON `domains` (`timestamp`);--> statement-breakpoint
CREATE INDEX `domains_account_id` ON `domains` (`account_id`);--> statement-breakpoint
CREATE INDEX `domains_reclamation_token` ON `domains` (`reclamation_token`) WHERE "domains"."reclamation_token" <> '';--> statement-breakpoint
CREATE INDEX `domains_verification_token` ON `domains` (`verification_token`) WHERE "domains"."verification_token" <> '';