/*
 * machine.c: an account's state machine (migrate(1) draws it): the
 * names of its states and the moves it allows.
 */
#include "compat.h"

#include "state.h"

static const char *const names[ST_NR] = {
	[ST_PENDING] = "pending",
	[ST_ASSESSED] = "assessed",
	[ST_COPYING] = "copying",
	[ST_COPIED] = "copied",
	[ST_VERIFIED] = "verified",
	[ST_CUTOVER] = "cutover",
	[ST_MIGRATED] = "migrated",
	[ST_FINALIZED] = "finalized",
	[ST_FAILED] = "failed",
	[ST_HELD] = "held",
	[ST_ROLLED_BACK] = "rolled_back",
};

/*
 * The machine (migrate(1) draws it).  Work moves an account along
 * pending -> assessed -> copying -> copied -> verified -> cutover ->
 * migrated -> finalized; verification that finds differences sends it
 * back to copying.  failed and held keep the state to resume from;
 * rolled_back is a flip back, after which a retry copies again.
 */
#define B(s) (1u << (s))
static const unsigned next[ST_NR] = {
	[ST_PENDING] = B(ST_ASSESSED) | B(ST_COPYING),
	[ST_ASSESSED] = B(ST_COPYING),
	[ST_COPYING] = B(ST_COPIED),
	[ST_COPIED] = B(ST_VERIFIED) | B(ST_COPYING),
	[ST_VERIFIED] = B(ST_CUTOVER) | B(ST_COPYING),
	[ST_CUTOVER] = B(ST_MIGRATED) | B(ST_ROLLED_BACK),
	[ST_MIGRATED] = B(ST_FINALIZED) | B(ST_ROLLED_BACK),
	[ST_FINALIZED] = B(ST_ROLLED_BACK),
	[ST_FAILED] = B(ST_ROLLED_BACK),	/* and its resume state */
	[ST_HELD] = B(ST_ROLLED_BACK),		/* and its resume state */
	[ST_ROLLED_BACK] = B(ST_COPYING),
};

/* failed and held may be entered from any state that work goes on in */
static const unsigned stoppable = B(ST_PENDING) | B(ST_ASSESSED) |
    B(ST_COPYING) | B(ST_COPIED) | B(ST_VERIFIED) | B(ST_CUTOVER) |
    B(ST_MIGRATED) | B(ST_ROLLED_BACK);

const char *
state_name(enum acc_state st)
{
	return st < ST_NR ? names[st] : "?";
}

int
state_parse(const char *s, enum acc_state *st)
{
	int i;

	for (i = 0; i < ST_NR; i++)
		if (s && !strcmp(s, names[i])) {
			*st = i;
			return 0;
		}
	return -1;
}

int
state_allowed(enum acc_state from, enum acc_state to)
{
	if (to == ST_FAILED)
		return (stoppable & B(from)) != 0;
	if (to == ST_HELD)
		return (stoppable & B(from)) || from == ST_FAILED;
	return (next[from] & B(to)) != 0;
}

int
cut_over(const struct account *a)
{
	enum acc_state x = a->state == ST_FAILED || a->state == ST_HELD ?
	    a->resume : a->state;

	return x == ST_CUTOVER || x == ST_MIGRATED || x == ST_FINALIZED;
}
