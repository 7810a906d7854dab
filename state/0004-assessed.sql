-- 4: what the assessment counted of each account's mail (imap-pull or
-- jmap-pull --mode assess, its report's totals), NULL until assessed;
-- the ETA in migrate status weighs what is left by it
ALTER TABLE accounts ADD COLUMN assessed_messages INTEGER;
ALTER TABLE accounts ADD COLUMN assessed_bytes INTEGER;
