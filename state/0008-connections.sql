-- 8: the connections to the source as the apply adapted them (AIMD):
-- the number the pulls may hold together at each change, the plan's
-- ceiling (limits.connections_per_source) and why it changed
CREATE TABLE connections(
	id INTEGER PRIMARY KEY,
	ts REAL NOT NULL,
	conns INTEGER NOT NULL,
	ceiling INTEGER NOT NULL,
	why TEXT
);
