/*
 * statereport.c: what `migrate report` reads of the state, each part an
 * array of rows (state_json_rows()): the waves' sizes, every account's
 * size, the largest accounts, the pulls over time, the migrations over
 * time, the accounts in progress longest, the anomalies by kind, the
 * risks (anomalies and findings by what they put at risk), and the
 * cutovers and rollbacks.  Each part is bounded where a plan of 100,000
 * accounts would make it long, except the sizes, which are one number
 * an account.
 */
#include "compat.h"

#include <jansson.h>

#include "state.h"
#include "state_int.h"

/* an account's weight: what the assessment counted, or what was pulled
 * if that is more */
#define SIZE "max(coalesce(assessed_bytes, 0), bytes)"
/* a row counted when `c` holds */
#define COUNT_IF(c) "sum(CASE WHEN " c " THEN 1 ELSE 0 END)"
/* a helper's done event's number at `path`, 0 when it has none */
#define DONE_NUM(path) "coalesce(CAST(json_extract(done, '" path "') AS" \
	" BIGINT), 0)"
/* the pulls that worked, with their done events: migrate wrote them
 * (json_dumps(), exec.c), so they are JSON or NULL; json_valid() would
 * cost PostgreSQL a subtransaction a row (dbpg.c) */
#define PULLED "step = 'pull' AND exit = 0 AND done IS NOT NULL"
/* an integer: the whole part of `x`, which is not negative */
#define WHOLE(x) "CAST(floor(" x ") AS BIGINT)"

/*
 * The values `v` of the rows of `q` summed over NBARS (24) equal spans of
 * their times `t`, a span a minute at least: a row per span that has
 * any, its number `k`, with the first time, the span and the last time.
 */
#define OVER_TIME(q) "WITH p AS (" q "), r AS (SELECT min(t) AS t0," \
	" max(t) AS t1, max((max(t) - min(t)) / 24.0, 60) AS span FROM p)" \
	" SELECT min(" WHOLE("(p.t - r.t0) / r.span") ", 23) AS k," \
	" sum(p.v) AS v, r.t0 AS t0, r.t1 AS t1, r.span AS span FROM p, r" \
	" GROUP BY 1, r.t0, r.t1, r.span ORDER BY 1"

static const struct {
	const char *name, *sql;
} parts[] = {
	{ "waves", "SELECT coalesce(wave, '-') AS wave, count(*) AS accounts,"
	    " sum(f.n) AS folders, sum(assessed_messages) AS assessed_messages,"
	    " sum(assessed_bytes) AS assessed_bytes, sum(messages) AS"
	    " messages, sum(bytes) AS bytes, sum(anomalies) AS anomalies,"
	    " " COUNT_IF("state IN ('migrated', 'finalized')") " AS migrated,"
	    " " COUNT_IF("state = 'failed'") " AS failed, "
	    COUNT_IF("state = 'held'") " AS held, "
	    COUNT_IF("state = 'rolled_back'") " AS rolled_back FROM accounts LEFT"
	    " JOIN findings f ON f.account_id = accounts.id AND f.kind ="
	    " 'folders' WHERE in_plan <> 0 GROUP BY 1 ORDER BY min(ord)" },
	{ "sizes", "SELECT CASE WHEN assessed_bytes IS NULL AND bytes = 0"
	    " THEN 0 WHEN " SIZE " < 1e6 THEN 1 WHEN " SIZE " < 1e7 THEN 2"
	    " WHEN " SIZE " < 1e8 THEN 3 WHEN " SIZE " < 1e9 THEN 4 WHEN "
	    SIZE " < 1e10 THEN 5 ELSE 6 END AS k, count(*) AS v FROM"
	    " accounts WHERE in_plan <> 0 GROUP BY 1" },
	{ "largest", "SELECT account, coalesce(wave, '-') AS wave, state,"
	    " coalesce(assessed_messages, messages) AS messages, " SIZE
	    " AS bytes FROM accounts WHERE in_plan <> 0 ORDER BY " SIZE " DESC,"
	    " ord LIMIT 10" },
	{ "pulls", OVER_TIME("SELECT ended AS t, " DONE_NUM("$.bytes") " AS v"
	    " FROM runs WHERE " PULLED) },
	{ "migrated", OVER_TIME("SELECT ts AS t, 1 AS v FROM transitions"
	    " WHERE to_state = 'migrated'") },
	{ "pulled_messages", OVER_TIME("SELECT ended AS t, "
	    DONE_NUM("$.messages") " AS v FROM runs WHERE " PULLED) },
	{ "sources", "SELECT helper, count(*) AS runs, sum("
	    DONE_NUM("$.messages") ") AS messages, sum(" DONE_NUM("$.bytes")
	    ") AS bytes,"
	    " sum(ended - started) AS seconds FROM runs WHERE " PULLED
	    " GROUP BY helper ORDER BY bytes DESC" },
	/* each state's count changing over time: +1 into it, -1 out of it,
	 * over the same spans as OVER_TIME */
	{ "connections", "SELECT * FROM (SELECT id, ts, conns, ceiling, why"
	    " FROM connections ORDER BY id DESC LIMIT 2000) AS c ORDER BY id" },
	{ "states", "WITH t AS (SELECT x.* FROM transitions x JOIN accounts a"
	    " ON a.id = x.account_id WHERE a.in_plan <> 0), r AS (SELECT min(ts)"
	    " AS t0, max(ts) AS t1, max((max(ts) - min(ts)) / 24.0, 60) AS"
	    " span FROM t), d AS (SELECT ts, to_state AS s, 1 AS v FROM t"
	    " UNION ALL SELECT ts, from_state, -1 FROM t) SELECT min("
	    WHOLE("(d.ts - r.t0) / r.span") ", 23) AS k, d.s AS state,"
	    " sum(d.v) AS v, r.t0 AS t0, r.t1 AS t1, r.span AS span FROM d, r"
	    " GROUP BY 1, 2, r.t0, r.t1, r.span ORDER BY 1" },
	{ "oldest", "SELECT a.account, f.n AS t FROM findings f JOIN"
	    " accounts a ON a.id = f.account_id WHERE f.kind = 'oldest-mail'"
	    " AND a.in_plan <> 0 ORDER BY f.n LIMIT 1" },
	{ "slowest", "SELECT a.account, coalesce(a.wave, '-') AS wave,"
	    " a.state, a.step, " WHOLE("((julianday('now') - 2440587.5) * 86400"
	    " - a.copy_began) / 60") " AS minutes, a.bytes FROM"
	    " accounts a WHERE a.in_plan <> 0 AND a.copy_began IS NOT NULL"
	    " AND a.state IN ('copying', 'copied', 'verified', 'cutover')"
	    " ORDER BY a.copy_began LIMIT 10" },
	{ "anomalies", "SELECT kind, sum(n) AS count, count(*) AS accounts,"
	    " group_concat(CASE WHEN rk <= 10 THEN account END, ' ') AS"
	    " sample FROM (SELECT x.kind, a.account, count(*) AS n,"
	    " row_number() OVER (PARTITION BY x.kind ORDER BY a.ord) AS rk"
	    " FROM anomalies x JOIN accounts a ON a.id = x.account_id GROUP"
	    " BY x.kind, a.id) AS y GROUP BY kind ORDER BY 2 DESC, 1" },
	{ "risks", "WITH x AS (SELECT account_id, CASE WHEN kind IN"
	    " ('too-large', 'over-size-limit', 'oversized') THEN 'size' WHEN"
	    " kind IN ('folder-name', 'folder-name-clash',"
	    " 'name-needs-escaping', 'name-undecodable',"
	    " 'folder-name-refused', 'folder-not-created') THEN 'names' WHEN"
	    " kind IN ('empty-message', 'no-uid', 'size-mismatch',"
	    " 'not-imported', 'rescued', 'duplicate-uid') THEN 'refused'"
	    " WHEN kind = 'password-not-carried' THEN 'passwords' WHEN kind"
	    " IN ('namespace-shared', 'acl-unreadable', 'share-refused',"
	    " 'share-unsupported', 'share-right-lost', 'share-right-widened',"
	    " 'dav-share-not-carried', 'dav-shared', 'dav-share-refused')"
	    " THEN 'shares' WHEN kind LIKE 'sieve-%' THEN 'sieve' END AS"
	    " risk, 1 AS n FROM anomalies UNION ALL SELECT account_id, CASE"
	    " WHEN kind = 'pop3-logins' THEN 'pop3' WHEN kind IN"
	    " ('shared-folders', 'shared-collections') THEN 'shares' END, n"
	    " FROM findings WHERE n > 0), r AS (SELECT x.risk, a.account, a.ord,"
	    " sum(x.n) AS n, row_number() OVER (PARTITION BY x.risk ORDER BY"
	    " a.ord) AS rk FROM x JOIN accounts a ON a.id = x.account_id"
	    " WHERE x.risk IS NOT NULL AND a.in_plan <> 0 GROUP BY x.risk, a.id)"
	    " SELECT risk, count(*) AS accounts, sum(n) AS count,"
	    " group_concat(CASE WHEN rk <= 10 THEN account END, ' ') AS"
	    " sample FROM r GROUP BY risk" },
	{ "cutovers", "SELECT a.account, coalesce(a.wave, '-') AS wave,"
	    " t.from_state AS \"from\", t.to_state AS \"to\", t.ts, t.why,"
	    " t.operator FROM transitions t JOIN accounts a ON a.id ="
	    " t.account_id WHERE t.to_state IN ('cutover', 'migrated', 'rolled_back')"
	    " ORDER BY t.id DESC LIMIT 600" },
	{ "plans", "SELECT id, applied, path, name, sha256 FROM plans ORDER"
	    " BY id DESC LIMIT 20" },
};

json_t *
state_report(struct state *s)
{
	json_t *r = json_object();
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		json_object_set_new(r, parts[i].name, state_json_rows(s,
		    parts[i].sql, -1));
	return r;
}

/* the wave ?1 names, or every wave when it is NULL */
#define OF_WAVE "(CAST(?1 AS TEXT) IS NULL OR coalesce(wave, '-') = ?1)"

json_t *
state_wave_page(struct state *s, const char *wave, int64_t page,
    int64_t per_page, int64_t *total)
{
	char off[32], lim[32];
	const char *params[3] = { wave, off, lim };
	json_t *n;

	snprintf(off, sizeof(off), "%" PRId64, page * per_page);
	snprintf(lim, sizeof(lim), "%" PRId64, per_page);
	n = state_json_rows_text(s, "SELECT count(*) AS n FROM accounts WHERE"
	    " in_plan <> 0 AND " OF_WAVE, 1, params);
	*total = json_integer_value(json_object_get(json_array_get(n, 0),
	    "n"));
	json_decref(n);
	return state_json_rows_text(s, "SELECT account, coalesce(wave, '-') AS"
	    " wave, state, coalesce(step, '') AS step, assessed_messages,"
	    " assessed_bytes, messages, bytes, anomalies, coalesce(error, '')"
	    " AS error FROM accounts WHERE in_plan <> 0 AND " OF_WAVE
	    " ORDER BY ord LIMIT CAST(?3 AS BIGINT) OFFSET CAST(?2 AS BIGINT)",
	    3, params);
}

json_t *
state_account_anomalies(struct state *s, int64_t account_id)
{
	json_t *r = json_object();

	json_object_set_new(r, "kinds", state_json_rows(s, "SELECT kind,"
	    " helper, count(*) AS count FROM anomalies WHERE account_id = ?1"
	    " GROUP BY 1, 2 ORDER BY 3 DESC, 1", account_id));
	json_object_set_new(r, "first", state_json_rows(s, "SELECT kind,"
	    " helper, coalesce(json_extract(event, '$.folder'), '') AS folder,"
	    " coalesce(json_extract(event, '$.uid'), '') AS uid,"
	    " coalesce(json_extract(event, '$.text'), '') AS text FROM"
	    " anomalies WHERE account_id = ?1 ORDER BY id LIMIT 200",
	    account_id));
	return r;
}
