-- 1: accounts and their state machines, helper runs, the audit queue.
-- migrate(1) applies each numbered file once, in order, in a transaction,
-- and records the number in PRAGMA user_version.
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;

-- each plan revision applied
CREATE TABLE plans(
	id INTEGER PRIMARY KEY,
	applied REAL NOT NULL,
	path TEXT NOT NULL,
	name TEXT NOT NULL,
	sha256 TEXT NOT NULL
);

CREATE TABLE accounts(
	id INTEGER PRIMARY KEY,
	account TEXT NOT NULL UNIQUE,	-- the address
	login TEXT NOT NULL,		-- the login at the source, as listed
	wave TEXT,			-- 'pilot' or a wave's name, once chosen
	ord INTEGER NOT NULL,		-- order in the plan
	in_plan INTEGER NOT NULL DEFAULT 1,	-- the last plan named it
	state TEXT NOT NULL DEFAULT 'pending',
	resume TEXT,			-- failed, held: the state to go on from
	step TEXT,			-- the last step done in this state
	attempts INTEGER NOT NULL DEFAULT 0,
	not_before REAL NOT NULL DEFAULT 0,	-- retry backoff
	error_class TEXT,		-- retryable, permanent
	error TEXT,
	archive TEXT,
	checkpoint TEXT,		-- helper:token, the last resume token
	messages INTEGER NOT NULL DEFAULT 0,
	bytes INTEGER NOT NULL DEFAULT 0,
	anomalies INTEGER NOT NULL DEFAULT 0,
	deltas INTEGER NOT NULL DEFAULT 0,	-- delta passes after cutover
	entered REAL NOT NULL,		-- when it entered its state
	started REAL,			-- first helper run
	finished REAL			-- reached migrated
);
CREATE INDEX accounts_state ON accounts(state);
CREATE INDEX accounts_wave ON accounts(wave, ord);

-- each helper's last resume token for each account
CREATE TABLE checkpoints(
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	helper TEXT NOT NULL,
	token TEXT NOT NULL,
	PRIMARY KEY(account_id, helper)
) WITHOUT ROWID;

-- every transition: the per-phase timestamps
CREATE TABLE transitions(
	id INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	ts REAL NOT NULL,
	from_state TEXT NOT NULL,
	to_state TEXT NOT NULL,
	why TEXT
);
CREATE INDEX transitions_account ON transitions(account_id, id);
CREATE INDEX transitions_to ON transitions(to_state, ts);

-- every helper run and what its done event said
CREATE TABLE runs(
	id INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	helper TEXT NOT NULL,
	step TEXT NOT NULL,
	started REAL NOT NULL,
	ended REAL NOT NULL,
	exit INTEGER NOT NULL,
	done TEXT,
	error TEXT
);
CREATE INDEX runs_account ON runs(account_id, id);

CREATE TABLE anomalies(
	id INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	helper TEXT NOT NULL,
	kind TEXT NOT NULL,
	event TEXT NOT NULL
);

-- lines for the audit repository, not committed there yet; ids are never
-- reused (AUTOINCREMENT): commits name the last one they hold
CREATE TABLE audit_queue(
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	kind TEXT NOT NULL,		-- event, flip, plan
	line TEXT NOT NULL
);
