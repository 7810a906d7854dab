-- 10: an account's row is written some thirty times on its way (its
-- state, step, checkpoint, counters, lease), and never by its indexed
-- columns but the wave and the phase's claims.  The index on its state
-- made every transition write each index again; the few queries by state
-- read every row anyway.  On PostgreSQL, room is left in each page for
-- a row's next version beside it (a HOT update: no index written).
DROP INDEX accounts_state;
--postgresql: ALTER TABLE accounts SET (fillfactor = 50);
