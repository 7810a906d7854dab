-- 12: the accounts that wait for room on the archives' disk (migrate
-- status, at each call) are few: an index of those alone, rather than
-- every account read.  A claim that clears `waiting` where it was
-- already clear changes no indexed value, so the row's update stays in
-- its page (PostgreSQL's HOT).
CREATE INDEX accounts_waiting ON accounts(ord) WHERE waiting IS NOT NULL;
