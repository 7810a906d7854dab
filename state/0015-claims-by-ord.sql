-- 15: the accounts a claim takes are found in the order of the plan,
-- by an index that no write changes.  One on the phase (todo) made each
-- claim and each release rewrite every index of the row: a row's new
-- version kept on its page (HOT) may change no indexed column.
DROP INDEX accounts_todo;
CREATE INDEX accounts_ord ON accounts(ord);
