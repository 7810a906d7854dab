# Faults on the wire (fault-relay.py between a helper and the real
# servers): for imap-pull, jmap-push, dav-pull, dav-push, sieve-pull,
# sieve-push and the proxy, a cut at several points, a reset, a stall, a
# trickle and a refused connection. Each run either completes or exits
# with a code migrate-helper(7) calls temporary (69, 75), and the rerun
# ends with the destination equal to the source: nothing lost, nothing
# twice. Then a full disk under a pull and under the state database.
. "$(dirname "$0")/lib.sh"

B=$top/$O/bin
work=$(mktemp -d /var/tmp/t-faults.XXXXXX)
relay_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
	[ -n "${proxy_pid:-}" ] && kill "$proxy_pid" 2>/dev/null
	mountpoint -q "$work/tiny" && umount "$work/tiny"
	wait 2>/dev/null
	# what was pushed: carol's mail, calendars and contacts, bob's scripts
	wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN" >/dev/null 2>&1
	prep_dav_push "$work/gone" >/dev/null 2>&1
	prep_sieve_push "$work/gone" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
DUMP=$top/tests/integration/imap-dump.py
TIMEOUT=4	# the helpers' --timeout: a stall is found in seconds

relay() {	# TARGET-PORT FAULT AFTER DIR [relay options]: RPORT is set
	local target=$1 fault=$2 after=$3 dir=$4
	shift 4
	relay_stop
	rm -f "$work/rport"
	"$top/tests/integration/fault-relay.py" --target "127.0.0.1:$target" \
	    --port-file "$work/rport" --fault "$fault" --after "$after" \
	    --dir "$dir" --log "$work/relay.log" "$@" >/dev/null \
	    2>"$work/relay.err" &
	relay_pid=$!
	# python's start, 20 s at most on a loaded host
	for _ in $(seq 400); do
		[ -s "$work/rport" ] && break
		kill -0 "$relay_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$work/rport" ] || sed 's/^/# relay: /' "$work/relay.err"
	RPORT=$(cat "$work/rport" 2>/dev/null)
}
relay_stop() {
	[ -n "$relay_pid" ] || return 0
	kill "$relay_pid" 2>/dev/null
	wait "$relay_pid" 2>/dev/null
	relay_pid=
}
# the bytes the first connection of a clean run carried that way
carried() {	# DIR
	for _ in $(seq 40); do	# the relay logs a connection once closed
		grep -q '^conn 1: ' "$work/relay.log" && break
		sleep 0.05
	done
	sed -n 's/^conn 1: none, \([0-9]*\) up, \([0-9]*\) down$/\1 \2/p' \
	    "$work/relay.log" | awk -v d="$1" '{ print d == "up" ? $1 : $2 }'
}

# --- each helper: how to run it, what to start from, what "equal" is --------
pw_of() { eval "printf 'password=%s\n\n' \"\$${1}_PASSWORD\""; }
run_imap_pull() {	# PORT ARCHIVE
	pw_of DAVE | timeout 120 "$B/imap-pull" --host "$WORLD_HOST" --port "$1" \
	    --ca-file "$WORLD_CA" --timeout "$TIMEOUT" --user "$DAVE_LOGIN" \
	    --mode auto --archive "$2"
}
prep_imap_pull() { rm -rf "$1"; }
state_imap_pull() { "$B/migrate-archive" ls -r "$1"; }
ref_imap_pull() { state_imap_pull "$work/ref.imap"; }

# (carol: dave has no account on Cyrus until provisioning makes one)
run_jmap_push() {
	pw_of CAROL | timeout 120 "$B/jmap-push" --url "http://$WORLD_HOST:$1" --allow-plaintext \
	    --timeout "$TIMEOUT" --user "$CAROL_DEST_LOGIN" --archive "$2"
}
prep_jmap_push() {
	rm -rf "$1"
	cp -a "$work/ref.carol" "$1"
	# a new Cyrus rather than a wipe: quicker, and an import after
	# many wipes of one user grows slow (tests/world/world)
	"$top/tests/world/world" fresh-cyrus >/dev/null 2>&1
}
state_jmap_push() {
	printf '%s\n' "$CAROL_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" \
	    "$DST_IMAP_PORT" "$CAROL_DEST_LOGIN" | dest_norm "$1"
}
ref_jmap_push() { expected "$1" "$CAROL_SEP"; }	# its rescued ones masked

run_dav_pull() {
	pw_of CAROL | timeout 120 "$B/dav-pull" --url "http://$WORLD_HOST:$1/" --allow-plaintext \
	    --timeout "$TIMEOUT" --user "$CAROL_DEST_LOGIN" --archive "$2"
}
prep_dav_pull() { rm -rf "$1"; }
state_dav_pull() {
	sqlite3 "$1/index.db" "SELECT collection, name, hash FROM dav_resources
	    ORDER BY 1, 2; SELECT path, kind, name FROM dav_collections ORDER BY 1"
}
ref_dav_pull() { state_dav_pull "$work/ref.dav"; }

run_dav_push() {
	pw_of CAROL | timeout 120 "$B/dav-push" --url "http://$WORLD_HOST:$1/" --allow-plaintext \
	    --timeout "$TIMEOUT" --user "$CAROL_DEST_LOGIN" --archive "$2"
}
prep_dav_push() {
	local c
	rm -rf "$1"
	cp -a "$work/ref.dav" "$1"
	for c in calendar contacts work; do
		dav_curl "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" -o /dev/null \
		    -X DELETE "http://$WORLD_HOST:$DST_HTTP_PORT/dav/calendars/user/$CAROL_DEST_LOGIN/$c/"
		dav_curl "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" -o /dev/null \
		    -X DELETE "http://$WORLD_HOST:$DST_HTTP_PORT/dav/addressbooks/user/$CAROL_DEST_LOGIN/$c/"
	done
}
state_dav_push() { dav_compare "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD"; }
ref_dav_push() {
	local u=$CAROL_DEST_LOGIN n
	n=$(( $(dav_members "$u" "$CAROL_PASSWORD" "${DAV_URL}$u/calendar/" | wc -l) +
	    $(dav_members "$u" "$CAROL_PASSWORD" "${DAV_URL}$u/contacts/" | wc -l) ))
	echo "$n 0"
}

run_sieve_pull() {
	pw_of BOB | timeout 120 "$B/sieve-pull" --host "$WORLD_HOST" --port "$1" \
	    --ca-file "$WORLD_CA" --timeout "$TIMEOUT" --user "$BOB_LOGIN" \
	    --archive "$2"
}
prep_sieve_pull() { rm -rf "$1"; }
state_sieve_pull() {
	sqlite3 "$1/index.db" "SELECT name, hash, active FROM sieve_scripts ORDER BY 1"
}
ref_sieve_pull() { state_sieve_pull "$work/ref.sieve"; }

run_sieve_push() {
	pw_of BOB | timeout 120 "$B/sieve-push" --host "$WORLD_HOST" --port "$1" \
	    --ca-file "$WORLD_CA" --timeout "$TIMEOUT" --user "$BOB_DEST_LOGIN" \
	    --archive "$2"
}
prep_sieve_push() {
	local s
	rm -rf "$1"
	cp -a "$work/ref.sieve" "$1"
	printf '%s\n' "$BOB_PASSWORD" |
	    sieve_client "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" setactive ""
	for s in $(printf '%s\n' "$BOB_PASSWORD" |
	    sieve_client "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" list | cut -d' ' -f1); do
		printf '%s\n' "$BOB_PASSWORD" |
		    sieve_client "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" delete "$s"
	done
}
state_sieve_push() {
	local s
	printf '%s\n' "$BOB_PASSWORD" |
	    sieve_client "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" list
	for s in main vacation; do
		printf '%s\n' "$BOB_PASSWORD" |
		    sieve_client "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" get "$s" |
		    sha256sum
	done
}
ref_sieve_push() {
	echo "main ACTIVE"
	echo "vacation"
	sha256sum <"$BOB_CORPUS/sieve/main.sieve"
	sha256sum <"$BOB_CORPUS/sieve/vacation.sieve"
}

# the proxy: imap-pull through it, the fault between it and Dovecot
run_proxy() {	# PORT ARCHIVE: PORT is the relay's, fixed in the proxy's file
	pw_of DAVE | timeout 120 "$B/imap-pull" --host "$WORLD_HOST" \
	    --port "$PROXY_PORT" --ca-file "$WORLD_CA" --timeout "$TIMEOUT" \
	    --user "$DAVE_LOGIN" --mode auto --archive "$2"
}
prep_proxy() { rm -rf "$1"; }
state_proxy() { state_imap_pull "$1"; }
ref_proxy() { ref_imap_pull; }

# --- the references: one clean run each, through a faithful relay -------
relay "$SRC_IMAP_PORT" none 0 down
run_imap_pull "$RPORT" "$work/ref.imap" >/dev/null 2>"$work/err"
is "$?" 0 "a clean imap-pull through a faithful relay (the reference)"
pw_of CAROL | "$B/imap-pull" --host "$WORLD_HOST" --port "$SRC_IMAP_PORT" \
    --ca-file "$WORLD_CA" --user "$CAROL_LOGIN" --archive "$work/ref.carol" \
    >/dev/null 2>"$work/err"
is "$?" 0 "a clean imap-pull of carol (the reference for jmap-push)"
run_dav_pull "$DAV_PORT" "$work/ref.dav" >/dev/null 2>"$work/err"
is "$?" 0 "a clean dav-pull (the reference)"
run_sieve_pull "$SRC_SIEVE_PORT" "$work/ref.sieve" >/dev/null 2>"$work/err"
is "$?" 0 "a clean sieve-pull (the reference)"

# fixed, below the kernel's ephemeral ports: a random one there could be
# some client's local port at the moment the relay binds it
PROXY_PORT=31343 PROXY_RELAY=31344
cat >"$work/proxy.yaml" <<EOF
hostname: proxy.example.org
default_domain: example.org
mapping: $work/mapping.db
tls:
  certificate: $WORLD_DIR/tls/server.pem
  key: $WORLD_DIR/tls/server.key
listeners:
  - { protocol: imap, listen: 127.0.0.1:$PROXY_PORT, tls: starttls }
backends:
  source:
    imap: { address: 127.0.0.1:$PROXY_RELAY, tls: starttls,
            servername: localhost, ca_file: $WORLD_CA }
  destination:
    imap: { address: 127.0.0.1:$DST_IMAP_PORT, allow_plaintext: true }
EOF
"$B/migrate-proxy" -c "$work/proxy.yaml" >"$work/proxy.log" 2>&1 &
proxy_pid=$!

# how much each helper's first connection carries, its heavy way: TOTAL
# (not in $(...): the relay it starts would hold the pipe open)
measure() {	# NAME TARGET DIR
	local arc=$work/measure
	: >"$work/relay.log"
	"prep_$1" "$arc"
	if [ "$1" = proxy ]; then
		relay "$2" none 0 "$3" --port "$PROXY_RELAY"
	else
		relay "$2" none 0 "$3"
	fi
	"run_$1" "$RPORT" "$arc" >/dev/null 2>&1
	TOTAL=$(carried "$3")
}

# one fault: the first run, the rerun, and the comparison
table=
scenario() {	# NAME TARGET DIR FAULT AFTER LABEL
	local name=$1 target=$2 dir=$3 fault=$4 after=$5 label=$6 arc rc1 rc2 same
	arc=$work/run
	"prep_$name" "$arc"
	: >"$work/relay.log"
	if [ "$name" = proxy ]; then
		relay "$target" "$fault" "$after" "$dir" --port "$PROXY_RELAY"
	else
		relay "$target" "$fault" "$after" "$dir"
	fi
	"run_$name" "$RPORT" "$arc" >"$work/out1" 2>"$work/err1"
	rc1=$?
	"run_$name" "$RPORT" "$arc" >"$work/out2" 2>"$work/err2"
	rc2=$?
	if [ "$("state_$name" "$arc")" = "$("ref_$name" "$arc")" ]; then
		same=equal
	else
		same=DIFFERENT
	fi
	table="$table$(printf '%-10s %-8s %-12s -> %3s, rerun %s, %s' \
	    "$name" "$fault" "$label" "$rc1" "$rc2" "$same")
"
	case "$fault:$rc1" in
	trickle:0 | none:0 | cut:0 | reset:0 | stall:0 | \
	    [!t]*:69 | [!t]*:75) ok "$name, $fault $label: exit $rc1" ;;
	*)	not_ok "$name, $fault $label: exit $rc1 (0, 69 or 75 expected)"
		sed 's/^/#   /' "$work/err1" | tail -3 ;;
	esac
	if [ "$rc2" = 0 ] && [ "$same" = equal ]; then
		ok "$name, $fault $label: the rerun completes, equal to the source"
	else
		not_ok "$name, $fault $label: the rerun completes ($rc2), equal to the source"
		diff <("state_$name" "$arc") <("ref_$name" "$arc") | head -5 |
		    sed 's/^/#   /'
		sed 's/^/#   /' "$work/err2" | tail -3
	fi
}

campaign() {	# NAME TARGET DIR
	local total
	measure "$1" "$2" "$3"
	total=$TOTAL
	[ -n "$total" ] && [ "$total" -gt 100 ] || {
		not_ok "$1: a clean run through the relay carries bytes ($total)"
		return
	}
	scenario "$1" "$2" down cut 40 "greeting"
	scenario "$1" "$2" "$3" cut $((total / 20)) "at 5%"
	scenario "$1" "$2" "$3" cut $((total / 2)) "at 50%"
	scenario "$1" "$2" "$3" cut $((total - total / 20)) "at 95%"
	scenario "$1" "$2" "$3" reset $((total / 2)) "at 50%"
	scenario "$1" "$2" "$3" stall $((total / 2)) "at 50%"
	scenario "$1" "$2" "$3" trickle $((total / 20)) "from 5%"
	scenario "$1" "$2" "$3" refuse 0 "connect"
}

campaign imap_pull "$SRC_IMAP_PORT" down
campaign jmap_push "$DST_HTTP_PORT" up
campaign dav_pull "$DAV_PORT" down
campaign dav_push "$DST_HTTP_PORT" up
campaign sieve_pull "$SRC_SIEVE_PORT" down
campaign sieve_push "$DST_SIEVE_PORT" up
campaign proxy "$SRC_IMAP_PORT" down
relay_stop
printf '%s' "$table" | sed 's/^/# /'

# --- killed between "import answered" and "row committed" ----------------
# The answers to jmap-push's method calls are held back (a stall on the
# way down) while Cyrus has already imported; jmap-push is then killed -9,
# with rows left 'sending' for emails the destination holds.  The rerun
# must find them there (by the archive's hash in the emails' headers),
# not import them twice.
arc=$work/crash
dcount() {
	printf '%s\n' "$CAROL_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" \
	    "$DST_IMAP_PORT" "$CAROL_DEST_LOGIN" | wc -l
}
rows() {	# STATE
	sqlite3 -cmd '.timeout 5000' "$arc/index.db" \
	    "SELECT count(*) FROM push_emails WHERE state = '$1'"
}
measure jmap_push "$DST_HTTP_PORT" down
down=$TOTAL landed=
for pct in 40 60 80; do
	prep_jmap_push "$arc"
	: >"$work/relay.log"
	relay "$DST_HTTP_PORT" stall $((down * pct / 100)) down
	pw_of CAROL | "$B/jmap-push" --url "http://$WORLD_HOST:$RPORT" --allow-plaintext \
	    --user "$CAROL_DEST_LOGIN" --archive "$arc" --batch 5 \
	    >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		grep -q 'fired' "$work/relay.log" && break
		sleep 0.05
	done
	sleep 1		# Cyrus finishes what it was asked
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	relay_stop
	sending=$(rows sending) done_rows=$(rows done) held=$(dcount)
	echo "# stall at $pct%: $done_rows done, $sending sending, $held on Cyrus"
	[ "$sending" -gt 0 ] && [ "$held" -gt "$done_rows" ] && landed="$landed $pct%"
	run_jmap_push "$DST_HTTP_PORT" "$arc" >/dev/null 2>"$work/err"
	rc=$?
	if [ "$rc" = 0 ] && [ "$(state_jmap_push "$arc")" = "$(ref_jmap_push "$arc")" ]; then
		ok "killed at $pct% ($sending rows sending): the rerun ends equal, each email once"
	else
		not_ok "killed at $pct% ($sending rows sending): the rerun ends equal, each email once ($rc)"
		diff <(state_jmap_push "$arc") <(ref_jmap_push "$arc") | head -5 |
		    sed 's/^/#   /'
	fi
done
[ -n "$landed" ] &&
    ok "a kill landed after Cyrus imported and before the row was committed (at$landed)" ||
    not_ok "a kill landed after Cyrus imported and before the row was committed"

# --- a full disk under a pull, and under the state database --------------
mkdir "$work/tiny"
if mount -t tmpfs -o size=256k tmpfs "$work/tiny" 2>/dev/null; then
	run_imap_pull "$SRC_IMAP_PORT" "$work/tiny/arc" >/dev/null 2>"$work/err"
	is "$?" 75 "imap-pull on a full disk exits 75 (run again: it continues)"
	like "$(cat "$work/err")" "'$work/tiny/arc/.*': No space left on device" \
	    "and names the file it could not write, and why"
	mount -o remount,size=64m "$work/tiny"
	run_imap_pull "$SRC_IMAP_PORT" "$work/tiny/arc" >/dev/null 2>"$work/err"
	is "$?" 0 "once there is room, the rerun completes"
	is "$(state_imap_pull "$work/tiny/arc")" "$(ref_imap_pull)" \
	    "and the archive holds what the source has, each message once"
	is "$("$B/migrate-archive" verify "$work/tiny/arc" >/dev/null 2>&1; echo $?)" 0 \
	    "migrate-archive verify finds every segment whole"

	# the state: a plan that only assesses, its state on the tmpfs
	cat >"$work/full.yaml" <<EOF
name: full
state: $work/tiny/state
source:
  imap: imap://127.0.0.1:$SRC_IMAP_PORT
  ca_file: $WORLD_CA
  auth:
    passwords: {file: $work/pw}
destination:
  jmap: http://127.0.0.1:$DST_HTTP_PORT
  allow_plaintext: true
  auth:
    passwords: {file: $work/pw}
accounts:
  list: [$DAVE_LOGIN]
phases:
  assessment:
EOF
	(umask 077; printf '%s %s\n' "$DAVE_LOGIN" "$DAVE_PASSWORD" >"$work/pw")
	"$B/migrate" --state "$work/tiny/state" status >/dev/null 2>&1
	head -c 64m /dev/zero >"$work/tiny/filler" 2>/dev/null
	"$B/migrate" plan apply "$work/full.yaml" >"$work/full.out" 2>&1
	rc=$?
	[ "$rc" -ne 0 ] && ok "migrate on a full disk fails ($rc)" ||
	    not_ok "migrate on a full disk fails ($rc)"
	like "$(cat "$work/full.out")" "$work/tiny/state/.*: (No space left on device|database or disk is full)" \
	    "and names the file in the state directory, and the full disk"
	rm -f "$work/tiny/filler"
	is "$(sqlite3 "$work/tiny/state/state.db" 'PRAGMA integrity_check')" ok \
	    "the state database is whole"
	"$B/migrate" plan apply "$work/full.yaml" >"$work/full.out" 2>&1
	is "$?" 0 "once there is room, the rerun completes"
	umount "$work/tiny"
else
	ok "# SKIP cannot mount a tmpfs (not root)"
fi

done_testing
