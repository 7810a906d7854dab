#!/bin/bash
# make soak: kill -9 `migrate plan apply` of the demo plan at random
# moments, SOAK_KILLS times at least (default 50), and `migrate rollback`
# SOAK_ROLLBACK_KILLS times a cycle (default 5), each followed by a rerun.
# A cycle is one run of tests/integration/t-migrate.sh: a fresh state,
# the destination emptied, the kills, the reruns, then every account
# compared over IMAP, Sieve and DAV by clients of its own.  Cycles run
# until the kills add up; the figures are printed at the end.  Needs the
# world running (tests/world/world start).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
export O MIGRATE_EXEC_PATH=${MIGRATE_EXEC_PATH:-$top/$O/bin}
want=${SOAK_KILLS:-50}
log=${SOAK_LOG:-/var/tmp/migrate-soak.log}
: >"$log"
kills=0 held=0 rkills=0 cycles=0 compared=0 bad=0
while [ "$kills" -lt "$want" ]; do
	cycles=$((cycles + 1))
	out=$(MIGRATE_KILLS=$((want - kills < 12 ? 12 : want - kills)) \
	    MIGRATE_ROLLBACK_KILLS=${SOAK_ROLLBACK_KILLS:-5} \
	    bash "$top/tests/integration/t-migrate.sh" 2>&1)
	printf '# cycle %d\n%s\n' "$cycles" "$out" >>"$log"
	set -- $(printf '%s\n' "$out" | sed -n 's/^# kills: \([0-9]*\), \([0-9]*\) of.*/\1 \2/p')
	kills=$((kills + ${1:-0})) held=$((held + ${2:-0}))
	set -- $(printf '%s\n' "$out" | sed -n 's/^# rollback kills: //p')
	rkills=$((rkills + ${1:-0}))
	compared=$((compared + $(printf '%s\n' "$out" |
	    grep -c '^ok .*IMAP on Cyrus shows what the source has')))
	bad=$((bad + $(printf '%s\n' "$out" | grep -c '^not ok')))
	echo "soak: cycle $cycles: $kills kills so far, $bad failures"
	[ "${1:-x}" = x ] && [ "$kills" -eq 0 ] && break	# t-migrate broken
done
echo "soak: $cycles cycles, $kills kills of plan apply ($held in a cutover" \
    "hold), $rkills of rollback, each followed by a rerun;" \
    "$compared accounts compared over IMAP; $bad failures (log: $log)"
[ "$bad" -eq 0 ] && [ "$kills" -ge "$want" ]
