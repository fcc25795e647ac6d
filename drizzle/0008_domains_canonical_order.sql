-- DNSSEC's NSEC chain walks the zone in canonical order (RFC 4034 6.1): label by label from the
-- right. Every gateway is one label below the apex, so its canonical place is its label's octet
-- order, which `ORDER BY name` is not: "a.example." sorts after "a-b.example." ('.' is 0x2E, '-'
-- 0x2D). With each '.' turned into char(1), below every octet a label holds, the name's order is
-- its label's order. Transfers page on exactly this expression (store/zone-reader.ts), so it
-- must stay written the same way there.
CREATE INDEX `domains_canonical_name` ON `domains` (replace(`name`, '.', char(1)));
