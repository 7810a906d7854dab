-- what an account holds besides mail, as its last pull counted it:
-- kind is "Sieve scripts", "events", "contacts" or "files"
CREATE TABLE items(
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	kind TEXT NOT NULL,
	count INTEGER NOT NULL,
	PRIMARY KEY(account_id, kind)
) WITHOUT ROWID;
