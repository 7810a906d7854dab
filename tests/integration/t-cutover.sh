# The cutover with a live user, on the real world with the real
# migrate-proxy in front of it: carol from Dovecot to Cyrus.  A proxy
# that cannot be told keeps her on the source; a final delta that fails
# releases the hold with no flip; an IMAP IDLE and a POP3 session are
# closed at the cutover and their logins, held meanwhile, land on Cyrus;
# then she flags, moves, deletes and receives mail there while a late
# message reaches the source, and delta + finalize undo none of it; a
# rollback, killed -9 once, carries it all back to the source; then the
# state directory is lost and the same plan finishes with nothing made
# twice.  All along, a POP3 client that leaves mail on the server fetches
# nothing twice: on Cyrus the proxy gives it the ids Dovecot gave.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy-lib.sh"
M=$top/$O/bin/migrate
DUMP=$top/tests/integration/imap-dump.py
LIVE=$top/tests/integration/live-user.py
HELD=$top/tests/integration/held-session.py
LEAVE=$top/tests/integration/pop3-leave.py
IMAP=25143 POP3=25110
export MIGRATE_NO_PROGRESS=1
# the late message goes to carol's source: she is seeded again at the end
trap 'cleanup; "$top/tests/world/world" reseed carol >/dev/null' EXIT

cat >"$work/proxy.yaml" <<EOF
default_domain: example.org
mapping: $work/mapping.db
control: $work/proxy.sock
listeners:
  - { protocol: imap, listen: 127.0.0.1:$IMAP }
  - { protocol: pop3, listen: 127.0.0.1:$POP3 }
backends:
  source:
    imap: { address: 127.0.0.1:$SRC_IMAP_PORT, tls: starttls,
            servername: localhost, ca_file: $WORLD_CA }
    pop3: { address: 127.0.0.1:$SRC_POP3S_PORT, tls: implicit,
            servername: localhost, ca_file: $WORLD_CA }
  destination:
    imap: { address: 127.0.0.1:$DST_IMAP_PORT, allow_plaintext: true }
    pop3: { address: 127.0.0.1:$DST_POP3_PORT, allow_plaintext: true }
EOF
umask 077
printf '%s\n' "$SRC_MASTER_PASSWORD" >"$work/master-password"
printf 'carol@example.org %s\n' "$CAROL_PASSWORD" >"$work/passwords"
printf '%s\n' "$CAROL_PASSWORD" >"$work/carol.pw"
umask 022
plan() {	# NAME CONTROL-SOCKET [more phases]
	cat >"$work/$1.yaml" <<-EOF
	state: $work/state
	mapping: $work/mapping.db
	source:
	  imap: imap://127.0.0.1:$SRC_IMAP_PORT
	  pop3: pop3://127.0.0.1:$SRC_POP3_PORT
	  ca_file: $WORLD_CA
	  auth:
	    master_user: $SRC_MASTER_USER
	    master_separator: "$SRC_MASTER_SEPARATOR"
	    master_password: {file: $work/master-password}
	destination:
	  jmap: http://127.0.0.1:$DST_HTTP_PORT
	  pop3: pop3://127.0.0.1:$DST_POP3_PORT
	  ca_file: $WORLD_CA
	  allow_plaintext: true
	  auth:
	    passwords: {file: $work/passwords}
	    login: "{account}"
	proxy:
	  control: $2
	  hold_seconds: 30
	limits:
	  retries: 0
	accounts:
	  default_domain: example.org
	  list: [carol]
	phases:
	  waves:
	    - name: all
	${3:-}
	EOF
}
apply() {	# PLAN: the exit code in $rc, the log in $work/PLAN.log
	"$M" plan apply "$work/$1.yaml" >"$work/$1.log" 2>&1
	rc=$?
}
status_of() {
	"$M" --state "$work/state" status --json carol@example.org |
	    jq -r '"\(.state) \(.resume // "-") \(.error_class // "-")"'
}
route() {
	"$FLIP" --store "$work/mapping.db" --list 2>/dev/null | awk '$1 == "carol@example.org" { print $2 }'
}
in_inbox() {
	"$LIVE" count "$SRC_IMAP_PORT" "$WORLD_CA" carol INBOX <"$work/carol.pw"
}
dest_where() {	# MESSAGE-ID...
	"$LIVE" where "$DST_IMAP_PORT" - carol@example.org "$@" <"$work/carol.pw"
}

wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN"
start_proxy "$work/proxy.yaml" "$work/proxy.log" "$POP3" ||
    not_ok "the proxy starts"

# --- a proxy that cannot be told -----------------------------------------
plan nowhere "$work/nowhere.sock"
apply nowhere
is "$rc" 75 "a proxy that cannot be told: the apply ends with the account set aside (75)"
is "$(status_of)" "failed verified retryable" \
    "carol is copied and verified, and failed retryable before the cutover"
is "$(route)" "" "and she still goes to the source"
like "$(cat "$work/nowhere.log")" "nowhere.sock" "the log names the socket"

# --- a final delta that fails --------------------------------------------
# The source goes away the moment the hold is taken: map-flip and
# imap-pull below are the real ones; once the hold is told, imap-pull is
# given a port where nothing listens.
mkdir "$work/bin"
for f in "$top/$O/bin"/*; do ln -s "$f" "$work/bin/"; done
rm "$work/bin/map-flip" "$work/bin/imap-pull"
cat >"$work/bin/map-flip" <<EOF
#!/bin/sh
case " \$* " in *" --hold "*) touch "$work/down" ;; esac
exec "$top/$O/bin/map-flip" "\$@"
EOF
cat >"$work/bin/imap-pull" <<EOF
#!/bin/sh
[ -e "$work/down" ] && exec "$top/$O/bin/imap-pull" "\$@" --port 1
exec "$top/$O/bin/imap-pull" "\$@"
EOF
chmod +x "$work/bin/map-flip" "$work/bin/imap-pull"
plan waves "$work/proxy.sock"
MIGRATE_EXEC_PATH=$work/bin apply waves
is "$rc" 75 "a source gone at the final pull: the account set aside (75)"
cp "$work/waves.log" "$work/failed.log"
like "$(cat "$work/failed.log")" "cutover abandoned, still on the source" \
    "the log says the cutover was abandoned"
is "$(status_of)" "failed verified retryable" "carol is failed retryable, to be tried again"
is "$(route)" "" "and still goes to the source"
start=$(date +%s%N)
out=$(printf '%s\n' "$CAROL_PASSWORD" |
    "$top/tests/integration/proxy-client.py" imap "$IMAP" none carol)
like "$(flat "$out")" "login OK server Dovecot" \
    "the hold is released: her next login reaches the source"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 10000 ] && ok "at once ($ms ms), not when the 30 s hold runs out" ||
    not_ok "at once ($ms ms), not when the 30 s hold runs out"

# --- the cutover: open sessions closed, held logins land on Cyrus --------
leave() {	# [--dele]: the POP3 client's check, through the proxy
	"$LEAVE" "$@" "$work/seen" "$POP3" carol <"$work/carol.pw" 2>&1
}
leave >"$work/leave0"
inbox=$(in_inbox)
is "$(grep -c '^fetched' "$work/leave0")" "$inbox" \
    "a POP3 client that leaves mail on the server fetches carol's $inbox messages from Dovecot"
"$HELD" imap "$IMAP" carol <"$work/carol.pw" >"$work/idle.out" 2>&1 &
idle=$!
"$HELD" pop3 "$POP3" carol <"$work/carol.pw" >"$work/pop3.out" 2>&1 &
pop=$!
for i in $(seq 100); do
	grep -q ready "$work/idle.out" && grep -q ready "$work/pop3.out" && break
	sleep 0.1
done
like "$(cat "$work/idle.out")" "ready Dovecot" "an IMAP IDLE session is open on the source"
like "$(cat "$work/pop3.out")" "ready" "and a POP3 session"
apply waves
is "$rc" 0 "the retry completes the cutover"
wait "$idle" "$pop"
like "$(flat "$(cat "$work/idle.out")")" "closed relogin Cyrus" \
    "the IDLE session was closed at the cutover; its new login landed on Cyrus"
like "$(flat "$(cat "$work/pop3.out")")" "closed relogin Cyrus" \
    "the POP3 session too"
held=$(sed -n 's/.*carol@example.org: logins held \([0-9.]*\) s/\1/p' "$work/waves.log")
like "$held" "^[0-9]+\.[0-9]+$" "the log says how long her logins were held ($held s)"
waited=$(awk '/relogin/ { print $NF }' "$work/idle.out")
awk -v w="$waited" -v h="$held" 'BEGIN { exit !(w > 0 && w <= h + 2) }'
is "$?" 0 "the held login waited for the cutover ($waited s), no longer"
is "$(status_of)" "migrated - -" "carol is migrated"
is "$(route)" "destination" "and routed to the destination"

# --- a live user; a late message at the source ----------------------------
"$LIVE" act "$IMAP" carol <"$work/carol.pw" >"$work/acts" 2>&1
is "$(cut -d' ' -f1 "$work/acts" | tr '\n' ' ')" "flagged moved deleted new " \
    "through the proxy, carol flags, moves, deletes and receives mail on Cyrus"
"$LIVE" late "$SRC_IMAP_PORT" "$WORLD_CA" carol <"$work/carol.pw" >>"$work/acts" 2>&1
mids=$(cut -d' ' -f2 "$work/acts")
dest_where $(grep -v '^late' "$work/acts" | cut -d' ' -f2) >"$work/user-view"
plan all "$work/proxy.sock" "  delta:
    passes: 1
  finalize:"
apply all
is "$rc" 0 "delta and finalize apply"
is "$(status_of)" "finalized - -" "carol is finalized"
dest_where $(grep -v '^late' "$work/acts" | cut -d' ' -f2) >"$work/after"
if cmp -s "$work/user-view" "$work/after"; then
	ok "every change of hers is intact: the flag, the move, the deletion, the new mail"
else
	not_ok "every change of hers is intact: the flag, the move, the deletion, the new mail"
	diff "$work/user-view" "$work/after" | sed 's/^/#   /'
fi
like "$(flat "$(cat "$work/user-view")")" "Kept.*INBOX.*Flagged" \
    "(her changes as she made them: the move to Kept, the flag)"
is "$(dest_where "$(sed -n 's/^late //p' "$work/acts")" | cut -f2)" "INBOX" \
    "the late message is on Cyrus, once"
like "$(jq -c '.changed_on_destination' "$work/state/reports/carol@example.org.verify.json")" \
    "keywords.*flagged" "the verify reports her changes as information"

# --- POP3 on Cyrus: the source's ids ---------------------------------------
leave >"$work/leave1"
is "$(grep '^fetched' "$work/leave1" | cut -d' ' -f3 | sort | tr '\n' ' ')" \
    "$(grep -E '^(new|late) ' "$work/acts" | cut -d' ' -f2 | sort | tr '\n' ' ')" \
    "on Cyrus, the client fetches only her new mail and the late message"
is "$(grep -c '^uidl-one OK' "$work/leave1")" 1 "UIDL n agrees with the listing"
like "$(cat "$work/proxy.log")" "POP3 ids given as the source's" \
    "the proxy says it gave the source's ids"
leave >"$work/leave2"
is "$(grep -c '^fetched' "$work/leave2")" 0 "and the next check fetches nothing"
# each message fetched through the proxy is the one Cyrus holds under
# the id the store maps to it
pop_hashes() {	# PORT USER: "UIDL SHA-256" lines
	"$top/tests/integration/pop3-hashes.py" "$WORLD_HOST" "$@" \
	    <"$work/carol.pw" | sort
}
pop_hashes "$DST_POP3_PORT" "$CAROL_DEST_LOGIN" | while read -r id h; do
	src=$(sqlite3 "$work/mapping.db" "SELECT src FROM pop3_uidls WHERE
	    account = 'carol@example.org' AND dest = '$id'")
	echo "${src:-$id} $h"
done | sort >"$work/mapped"
pop_hashes "$POP3" carol >"$work/through"
if [ -s "$work/through" ] && cmp -s "$work/mapped" "$work/through"; then
	ok "through the proxy every message is Cyrus's, byte for byte, under the source's id"
else
	not_ok "through the proxy every message is Cyrus's, byte for byte, under the source's id"
	diff "$work/mapped" "$work/through" | head -5 | sed 's/^/#   /'
fi
"$LIVE" receive "$IMAP" carol 1 <"$work/carol.pw" >"$work/one" 2>&1
leave --dele >"$work/leave3"
is "$(grep '^fetched' "$work/leave3" | cut -d' ' -f3) $(tail -1 "$work/leave3")" \
    "$(cut -d' ' -f2 "$work/one") deleted 1" \
    "a message that arrives is fetched, then DELE and QUIT go through"
is "$(dest_where "$(cut -d' ' -f2 "$work/one")")" "" "and Cyrus no longer has it"

# --- a rollback that loses nothing, killed once on the way ----------------
# She goes on working on Cyrus (60 more messages); the first carry-back is
# killed -9 once some of them reached the source, and she stays on Cyrus;
# the next rollback carries the rest back, and nothing twice.
"$LIVE" receive "$IMAP" carol 60 <"$work/carol.pw" >"$work/news" 2>&1
mids=$(cut -d' ' -f2 "$work/acts" "$work/news")
dest_where $mids >"$work/dest-view"
n0=$(in_inbox)
rm -rf "${work:?}/bin"
mkdir "$work/bin"
for f in "$top/$O/bin"/*; do ln -s "$f" "$work/bin/"; done
rm "$work/bin/carry-back"
cat >"$work/bin/carry-back" <<WRAPPER
#!/bin/bash
case " \$* " in *" --check "*) exec "$top/$O/bin/carry-back" "\$@" ;; esac
exec 3<&0
"$top/$O/bin/carry-back" "\$@" <&3 &
pid=\$!
for i in \$(seq 300); do
	[ "\$("$LIVE" count "$SRC_IMAP_PORT" "$WORLD_CA" carol INBOX \
	    <"$work/carol.pw")" -ge $((n0 + 5)) ] && break
	sleep 0.05
done
kill -9 \$pid
wait \$pid
WRAPPER
chmod +x "$work/bin/carry-back"
MIGRATE_EXEC_PATH=$work/bin "$M" --state "$work/state" rollback carol@example.org \
    >"$work/back1.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && ok "a rollback whose carry-back is killed -9 fails ($rc)" ||
    not_ok "a rollback whose carry-back is killed -9 fails ($rc)"
n1=$(in_inbox)
[ "$n1" -gt "$n0" ] && [ "$n1" -lt $((n0 + 61)) ] &&
    ok "the kill landed on the way ($((n1 - n0)) of her 61 new messages carried back)" ||
    not_ok "the kill landed on the way ($((n1 - n0)) of her 61 new messages carried back)"
is "$(status_of) $(route)" "finalized - - destination" \
    "carol stays on Cyrus, finalized, as before the rollback"
"$M" --state "$work/state" rollback carol@example.org >"$work/back2.log" 2>&1
rc=$?
is "$rc" 0 "the next rollback completes"
[ "$rc" -eq 0 ] || {
	tail -5 "$work/back2.log"
	jq -c '.actions[]' "$work/state/reports/carol@example.org.back-check.json"
} 2>&1 | head -20 | sed 's/^/#   /'
like "$(cat "$work/back2.log")" "carol@example.org: carried back" \
    "and says what it carried back"
is "$(status_of) $(route)" "rolled_back - - source" \
    "carol is rolled back, routed to the source"
"$LIVE" where "$SRC_IMAP_PORT" "$WORLD_CA" carol $mids <"$work/carol.pw" >"$work/src-view"
if cmp -s "$work/dest-view" "$work/src-view"; then
	ok "Dovecot holds what she left on Cyrus: the new mail, the flag, the move, the deletion"
else
	not_ok "Dovecot holds what she left on Cyrus: the new mail, the flag, the move, the deletion"
	diff "$work/dest-view" "$work/src-view" | head -10 | sed 's/^/#   /'
fi
is "$(cut -f1 "$work/src-view" | sort | uniq -d | wc -l)" 0 \
    "no message twice at the source"
like "$(git -C "$work/state/audit" log --format=%s -1)" "carol@example.org" \
    "the rollback is a commit of the audit repository"
out=$(printf '%s\n' "$CAROL_PASSWORD" |
    "$top/tests/integration/proxy-client.py" imap "$IMAP" none carol)
like "$(flat "$out")" "login OK server Dovecot" "her next login reaches Dovecot"
leave >"$work/leave4"
mids_of() { sed -n 's/^fetched [^ ]* //p' "$1" | sort -u; }
is "$(grep -c '^ids' "$work/leave4") $(comm -12 <(mids_of "$work/leave0") \
    <(mids_of "$work/leave4") | wc -l)" "1 0" \
    "back on Dovecot, POP3 fetches none of what it fetched there before the cutover"

# --- a lost state ---------------------------------------------------------
folders_of() {
	printf '%s\n' "$CAROL_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" "$DST_IMAP_PORT" \
	    "$CAROL_DEST_LOGIN" | cut -f1 | sort -u
}
dupes() {
	printf '%s\n' "$CAROL_PASSWORD" | "$DUMP" --ca "$WORLD_CA" "$WORLD_HOST" "$DST_IMAP_PORT" \
	    "$CAROL_DEST_LOGIN" | cut -f1,5 | sort | uniq -d | wc -l
}
before=$(folders_of)
rm -rf "$work/state"
apply all
is "$rc" 0 "with the state directory lost, the same plan applies again"
is "$(status_of)" "finalized - -" "and carol is finalized"
is "$(folders_of)" "$before" "no folder made twice (no \"(migrated)\")"
is "$(dupes)" 0 "no message twice in a folder"
is "$(dest_where "$(sed -n 's/^late //p' "$work/acts")" | cut -f2)" "INBOX" \
    "the late message still once"

done_testing
