CREATE TABLE `dnssec_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`algorithm` text NOT NULL,
	`private_key` blob NOT NULL,
	`created` integer NOT NULL
);
