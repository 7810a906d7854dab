-- 13: when an account first entered 'copying', on its row.  The ETA's
-- rate and the report's slowest accounts want it for many accounts; it
-- was the least timestamp of their transitions into 'copying', which
-- meant reading those of every account.
ALTER TABLE accounts ADD COLUMN copy_began REAL;
UPDATE accounts SET copy_began = (SELECT min(t.ts) FROM transitions t
    WHERE t.account_id = accounts.id AND t.to_state = 'copying');
