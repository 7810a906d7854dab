-- 5: what the assessment found of each account beyond its mail, counted:
-- its folders (folders), folders it shares (shared-folders), calendars and address books it
-- shares (shared-collections), its POP3 logins in the source's logs
-- (pop3-logins), and when its oldest message came (oldest-mail, in
-- seconds since the epoch); the report lists them
CREATE TABLE findings(
	account_id INTEGER NOT NULL REFERENCES accounts(id),
	kind TEXT NOT NULL,
	n INTEGER NOT NULL,
	PRIMARY KEY(account_id, kind)
) WITHOUT ROWID;
