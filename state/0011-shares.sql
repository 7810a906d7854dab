-- 11: the pushes whose sharing waits for its grantees (migrate status,
-- the pass after each phase) are the few runs whose result names
-- shares: an index of those alone, rather than every run of every
-- account read at each status.
CREATE INDEX runs_shares ON runs(account_id, helper, id)
	WHERE done LIKE '%"shares"%';
