/*
 * stateload.c: what the state keeps of the load on the source: the
 * connections the pulls may hold together, at each change (load.c).
 */
#include "compat.h"

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"
#include "now.h"
#include "state.h"
#include "state_int.h"

int
state_add_connections(struct state *s, int conns, int ceiling,
    const char *why)
{
	sqlite3 *db = state_lock_db(s);
	sqlite3_stmt *st;
	int rc = SQLITE_ERROR;

	if (sqlite3_prepare_v2(db, "INSERT INTO connections(ts, conns,"
	    " ceiling, why) VALUES(?1, ?2, ?3, ?4)", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_double(st, 1, now_seconds());
		sqlite3_bind_int(st, 2, conns);
		sqlite3_bind_int(st, 3, ceiling);
		sqlite3_bind_text(st, 4, why, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE)
		log_warnx("state: %s", sqlite3_errmsg(db));
	state_unlock_db(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

json_t *
state_connections(struct state *s)
{
	json_t *rows = state_json_rows(s, "SELECT ts, conns, ceiling, why,"
	    " (SELECT count(*) FROM connections WHERE why LIKE 'cut%') AS"
	    " cuts FROM connections ORDER BY id DESC LIMIT 1", -1);
	json_t *last = json_incref(json_array_get(rows, 0));

	json_decref(rows);
	return last;
}
