-- 14: transitions are no longer looked up by the state they went to:
-- the first copy is on the account's row (13), and the report reads
-- them all or the last ones.  Each transition wrote this index too.
DROP INDEX transitions_to;
