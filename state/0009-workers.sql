-- 9: accounts shared by workers (migrate worker), the state in
-- PostgreSQL: the phases the coordinator (plan apply) opens, the phase
-- that still has work for each account (todo: a phase's id; its negative
-- once that phase is done with it), and the lease by which one worker at
-- a time holds an account (owner, until lease_until, the database's
-- clock); home is the worker whose archive holds the account.
ALTER TABLE accounts ADD COLUMN todo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN owner TEXT;
ALTER TABLE accounts ADD COLUMN lease_until REAL NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN home TEXT;
CREATE INDEX accounts_todo ON accounts(todo, ord);
ALTER TABLE runs ADD COLUMN worker TEXT;

-- the workers alive: each says so as it renews its leases, and they
-- share the plan's limits on the source
CREATE TABLE workers(
	name TEXT PRIMARY KEY,
	seen REAL NOT NULL
);

CREATE TABLE phases(
	id INTEGER PRIMARY KEY,
	run_id TEXT NOT NULL,		-- the apply that opened it
	name TEXT NOT NULL,		-- assessment, pilot, a wave, delta...
	kind TEXT NOT NULL,		-- assessment, move, delta, finalize;
					-- end: that apply is over
	wave TEXT,
	opened REAL NOT NULL,
	closed REAL
);
