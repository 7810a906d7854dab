/*
 * mapping.h: the mapping store, the one thing the proxy and the
 * orchestrator share: which server holds each login (migrate-mapping(5)).
 *
 * A small SQLite file of its own, or a PostgreSQL database that several
 * proxies share and follow.  A row per identifier (an address, and
 * its bare name when the account is in the default domain), lowercased;
 * no row means the default route: the source, until finalize makes it
 * the destination.  Every change takes the next number of one
 * counter, the store's version, so that a reader can tell that anything
 * changed by reading one number.
 */
#ifndef MIGRATE_MAPPING_H
#define MIGRATE_MAPPING_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct mapping;

enum route {
	ROUTE_SOURCE,
	ROUTE_DESTINATION,
};

/* where migrate-proxy(8) takes its control commands (kick, delay), unless
 * its configuration, the plan or map-flip's --control say otherwise */
#define PROXY_CONTROL_DEFAULT	"/run/migrate-proxy/control.sock"

const char *route_name(enum route r);
int route_parse(const char *s, enum route *r);

/* Is `store` a database's URL (postgresql://...) rather than a file? */
int mapping_is_url(const char *store);

/*
 * Open the store `store` names, a file or a postgresql:// URL:
 * MAPPING_WRITE to change it (made if it is not there); MAPPING_READ
 * read-only, as --list reads it; MAPPING_FOLLOW as migrate-proxy reads a
 * database, opened even when it cannot connect yet (`err` says why):
 * see mapping_reconnect().
 */
#define MAPPING_READ	0
#define MAPPING_WRITE	1
#define MAPPING_FOLLOW	2
int mapping_open(struct mapping **m, const char *store, int mode,
    struct buf *err);
void mapping_close(struct mapping *m);

/*
 * Route `account` and its `ids` (both login forms; the account itself is
 * always included) to `r`, in one transaction.  `changed_r` tells
 * whether any of them now goes elsewhere than before (no row is the
 * source); the version is the store's after the call.
 */
int mapping_set(struct mapping *m, const char *account,
    const char *const *ids, size_t nr_ids, enum route r, int *changed_r,
    int64_t *version_r, struct buf *err);

/*
 * Replace every route with those of an export (`identifier route` lines,
 * as mapping_export() writes), in one transaction.  Identifiers the
 * export lacks go back to the source.  `ids_r` gets the identifiers
 * whose route changed (the caller frees them), `nr_r` their number.
 */
int mapping_restore(struct mapping *m, const char *text, size_t len,
    char ***ids_r, size_t *nr_r, int64_t *version_r, struct buf *err);

/*
 * Replace the POP3 ids of `account` (a migrated one): `dest[i]`, the
 * destination's id of a message, stands for `src[i]`, the source's; in
 * one transaction.  The routes and the version are not touched.
 */
int mapping_set_uidls(struct mapping *m, const char *account,
    const char *const *dest, const char *const *src, size_t nr,
    struct buf *err);

/* A migrated account's POP3 id on the destination, and the source's. */
struct uidl_pair {
	char *dest, *src;
};
/*
 * The POP3 ids of the account `id` logs in to (lowercased here), sorted
 * by `dest` as strcmp(3) sorts; none is no error.  The caller frees
 * them with uidl_pairs_free().
 */
int mapping_uidls(struct mapping *m, const char *id,
    struct uidl_pair **pairs_r, size_t *nr_r, struct buf *err);
void uidl_pairs_free(struct uidl_pair *v, size_t nr);

/* The route of identifiers without a row (ROUTE_SOURCE unless set). */
int mapping_default(struct mapping *m, enum route *r, struct buf *err);
/* Set it, in one transaction; `changed_r` whether it was otherwise. */
int mapping_set_default(struct mapping *m, enum route r, int *changed_r,
    int64_t *version_r, struct buf *err);
/* The export's line that says the default is the destination (restore
 * takes it back; without it the default is the source). */
#define MAPPING_DEFAULT_LINE	"# default destination"

/* The route of `id` (lowercased here); 0 found, 1 not found, -1 error. */
int mapping_lookup(struct mapping *m, const char *id, enum route *r,
    struct buf *err);

int64_t mapping_version(struct mapping *m);

/* Every row as `identifier route` lines, sorted, into `out`. */
int mapping_export(struct mapping *m, struct buf *out, struct buf *err);

/*
 * Tell whoever follows the store (every migrate-proxy on a database) the
 * control lines `lines` ("kick ID", "delay ID SECONDS"), in one
 * transaction.  0 told, 1 a file has no followers, -1 error.
 */
int mapping_tell(struct mapping *m, const char *lines, struct buf *err);

/*
 * Following a database store (a file: -1, err says so).
 * mapping_listen() asks for its announcements and returns the socket to
 * wait on; mapping_heard() reads what came, an announcement a line to
 * `fn` ("version N" for each new version, or a line of mapping_tell()),
 * -1 when the connection is lost.  mapping_changes() gives `fn` every
 * identifier whose row changed after version `since` and returns the
 * store's version.  mapping_reconnect() connects again without blocking:
 * `start` the first call, then one each time the socket in *fd_r is
 * ready as asked: 0 connected, 1 wait to read, 2 to write, -1 failed.
 */
int mapping_listen(struct mapping *m, struct buf *err);
int mapping_heard(struct mapping *m, void (*fn)(void *arg, const char *line),
    void *arg, struct buf *err);
int64_t mapping_changes(struct mapping *m, int64_t since,
    void (*fn)(void *arg, const char *id, enum route r), void *arg,
    struct buf *err);
int mapping_reconnect(struct mapping *m, int start, int *fd_r,
    struct buf *err);

/*
 * The login forms of `account`: itself, lowercased; with `domain`, also
 * the bare name of an address in that domain, or the address of a bare
 * name.  The caller frees each string and the array.
 */
size_t mapping_forms(const char *account, const char *domain, char ***forms_r);

#endif
