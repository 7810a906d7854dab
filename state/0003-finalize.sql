-- what finalize found when it last checked the world, once every
-- account was on the destination: one row per item ("accounts",
-- "dns NAME", "source read-only", "default route", "decommission")
CREATE TABLE finalize_items(
	what TEXT PRIMARY KEY,
	ok INTEGER NOT NULL,
	detail TEXT NOT NULL,
	time INTEGER NOT NULL
) WITHOUT ROWID;
