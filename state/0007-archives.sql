-- 7: the archives' disk.  Why an account waits before its pull (no room
-- on the archives' disk yet; NULL when it does not wait), and when
-- `migrate prune` removed its archive (NULL: kept).
ALTER TABLE accounts ADD COLUMN waiting TEXT;
ALTER TABLE accounts ADD COLUMN pruned REAL;
