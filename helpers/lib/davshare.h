/*
 * davshare.h: who else may use a calendar or an address book, as WebDAV
 * servers say it.
 *
 * Three vocabularies, read in this order:
 *   DAV:invite		draft-pot-webdav-resource-sharing (Cyrus, sabre/dav):
 *			sharees by mailto: or principal, read or read-write
 *   CS:invite		Apple's calendarserver sharing, the same in older words
 *   DAV:acl		RFC 3744 (Stalwart, Cyrus): a grant to a principal
 * A share is {"who": IDENTIFIER, "access": "read" | "read-write"}; the
 * identifier is the address of a mailto:, or the last segment of a
 * principal's path, decoded ("bob@example.org", or a bare "bob").
 */
#ifndef MIGRATE_DAVSHARE_H
#define MIGRATE_DAVSHARE_H

#include <jansson.h>

#include "dav.h"

/* The properties to ask for, in a PROPFIND whose D: is DAV: and S: is
 * calendarserver's. */
#define DAV_SHARE_PROPS	"<D:acl/><D:invite/><S:invite/><D:share-access/>"

/* The identifier a sharee's or a principal's href names (caller frees). */
char *dav_share_id(const char *href);
/*
 * The shares in a PROPFIND response `r`, sorted by identifier, the owner
 * (principal path `principal`, login `user`) left out.  What cannot be
 * carried is described in `lost` when it is not NULL: a grant to no one
 * account (a group, everyone) of more than free-busy, and the right to
 * change the sharing (DAV:all, DAV:write-acl), carried as read-write.
 */
json_t *dav_shares_of(const struct dav_resp *r, const char *principal,
    const char *user, json_t *lost);
/* Whether the response says its collection takes draft-pot's POST of a
 * share-resource (it has a DAV:share-access). */
int dav_shares_by_post(const struct dav_resp *r);

#endif
