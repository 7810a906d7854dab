# sieve-pull from the world's Dovecot (ManageSieve, and its sieve
# directory on disk) and sieve-push onto the world's Cyrus, each checked
# with python3-sievelib's client: byte-exact scripts, the active one,
# reruns that change nothing, a delta (changed, added, activated,
# deleted), a script the destination refuses, wrong passwords, TLS.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/sieve-pull
PUSH=$top/$O/bin/sieve-push
SV=$top/tests/integration/sieve-client.py
work=$(mktemp -d /var/tmp/t-sieve.XXXXXX)
cleanup() {
	for s in $(printf '%s\n' "$BOB_PASSWORD" |
	    "$SV" "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" list | cut -d' ' -f1); do
		printf '%s\n' "$BOB_PASSWORD" |
		    "$SV" "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" setactive ""
		printf '%s\n' "$BOB_PASSWORD" |
		    "$SV" "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" delete "$s"
	done >/dev/null 2>&1
	"$top/tests/world/world" reseed bob >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cleanup_dest() { cleanup; mkdir -p "$work"; }
cleanup_dest
src() { printf '%s\n' "$BOB_PASSWORD" | "$SV" "$SRC_SIEVE_PORT" "$BOB_LOGIN" "$@"; }
dst() { printf '%s\n' "$BOB_PASSWORD" | "$SV" "$DST_SIEVE_PORT" "$BOB_DEST_LOGIN" "$@"; }
pull() {	# ARCHIVE [options...]
	local arc=$1
	shift
	printf 'password=%s\n\n' "${PW:-$BOB_PASSWORD}" | "$PULL" \
	    --host "$WORLD_HOST" --port "$SRC_SIEVE_PORT" --ca-file "$WORLD_CA" \
	    --user "$BOB_LOGIN" --archive "$arc" "$@" >"$work/out" 2>"$work/err"
}
push() {	# ARCHIVE [options...]
	local arc=$1
	shift
	printf 'password=%s\n\n' "${PW:-$BOB_PASSWORD}" | "$PUSH" \
	    --host "$WORLD_HOST" --port "$DST_SIEVE_PORT" --ca-file "$WORLD_CA" \
	    --user "$BOB_DEST_LOGIN" --archive "$arc" "$@" >"$work/out" \
	    2>"$work/err"
}
done_field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }

# --- a full pass ------------------------------------------------------------
pull "$work/a"
is "$?" 0 "sieve-pull over STARTTLS, the world's CA verified"
is "$(done_field scripts) $(done_field active) $(done_field changed)" \
    "2 main 2" "two scripts, main active, both new"
is "$(sqlite3 "$work/a/index.db" 'SELECT name, active FROM sieve_scripts ORDER BY 1' | tr '\n' ' ')" \
    "main|1 vacation|0 " "the index holds both, main active"
push "$work/a"
is "$?" 0 "sieve-push onto Cyrus"
is "$(done_field pushed) $(done_field differences)" "2 0" \
    "both pushed, and read back equal"
is "$(dst list | tr '\n' ' ')" "main ACTIVE vacation " \
    "sievelib: the destination lists both, main active"
for s in main vacation; do
	if cmp -s <(dst get "$s") "$BOB_CORPUS/sieve/$s.sieve"; then
		ok "sievelib: '$s' on the destination is the source's, byte for byte"
	else
		not_ok "sievelib: '$s' on the destination is the source's, byte for byte"
	fi
done

# --- reruns change nothing --------------------------------------------------
segs=$(ls "$work/a/segments" | wc -l)
pull "$work/a"
is "$(done_field changed) $(done_field deleted) $(ls "$work/a/segments" | wc -l)" \
    "0 0 $segs" "a second pull with nothing changed writes no segment"
push "$work/a"
is "$(done_field pushed) $(done_field unchanged) $(done_field differences)" \
    "0 2 0" "a second push sends nothing"
is "$(dst list | wc -l)" 2 "and the destination still holds two scripts"

# --- the on-disk sieve directory gives the same ------------------------------
home=$WORLD_DIR/dovecot/home/bob
"$PULL" --dir "$home/sieve" --active "$home/.dovecot.sieve" \
    --user "$BOB_LOGIN" --archive "$work/disk" </dev/null >"$work/out" \
    2>"$work/err"
is "$?" 0 "sieve-pull --dir reads Dovecot's sieve directory"
is "$(sqlite3 "$work/disk/index.db" 'SELECT name, hash, active FROM sieve_scripts ORDER BY 1')" \
    "$(sqlite3 "$work/a/index.db" 'SELECT name, hash, active FROM sieve_scripts ORDER BY 1')" \
    "the same scripts, bytes and active one as over ManageSieve"

# --- a delta: changed, added and activated, deleted ---------------------------
printf 'require ["vacation"];\nvacation :days 3 :subject "Back soon" "Änderung: bis Freitag.";\n' \
    >"$work/vacation.sieve"
printf 'require ["fileinto"];\nif header :contains "subject" "[spam]" { fileinto "Junk"; }\n' \
    >"$work/spam.sieve"
src put vacation "$work/vacation.sieve" && src put spam "$work/spam.sieve" &&
    src setactive spam && src delete main
is "$?" 0 "the source changed with sievelib"
pull "$work/a"
is "$(done_field changed) $(done_field deleted) $(done_field active)" \
    "2 1 spam" "the delta pull: vacation changed, spam added and active, main deleted"
push "$work/a"
is "$?" 0 "the delta push"
is "$(done_field pushed) $(done_field deleted) $(done_field differences)" \
    "2 1 0" "two scripts sent, one deleted, read back equal"
is "$(dst list | tr '\n' ' ')" "spam ACTIVE vacation " \
    "sievelib: the destination has spam active, vacation, and no main"
if cmp -s <(dst get vacation) "$work/vacation.sieve"; then
	ok "sievelib: the changed vacation script (UTF-8) arrived byte for byte"
else
	not_ok "sievelib: the changed vacation script (UTF-8) arrived byte for byte"
fi

src setactive ""
pull "$work/a"
is "$(done_field changed) $(done_field active)" "1 null" \
    "no script active at the source any more"
push "$work/a"
is "$(dst list | tr '\n' ' ')" "spam vacation " "nor on the destination"
src setactive spam
pull "$work/a"
push "$work/a"
is "$(dst list | tr '\n' ' ')" "spam ACTIVE vacation " "and spam active again"

# --- a script the destination refuses -----------------------------------------
printf 'require ["foreverypart", "mime", "fileinto"];\nforeverypart {\n  if header :mime :contains "Content-Type" "application/zip" { fileinto "Zips"; }\n}\n' \
    >"$work/zips.sieve"
src put zips "$work/zips.sieve"
is "$?" 0 "the source (Dovecot) takes a script with foreverypart and mime"
pull "$work/a"
is "$(done_field changed)" 1 "it is pulled"
push "$work/a"
is "$?" 65 "sieve-push exits 65 (EX_DATAERR) when the destination refuses a script"
like "$(grep '"event":"anomaly"' "$work/out" | jq -r 'select(.kind == "sieve-refused") | .text')" \
    "zips|foreverypart|mime|NO" "an anomaly carries the destination's reason"
is "$(done_field pushed) $(done_field refused)" "0 1" "the others were left as they were"
is "$(dst list | tr '\n' ' ')" "spam ACTIVE vacation " \
    "the destination still has spam active and vacation"
is "$(sqlite3 "$work/a/index.db" "SELECT state FROM push_sieve WHERE name = 'zips'")" \
    failed "the archive keeps the script, its push recorded as failed"
push "$work/a"
is "$?" 65 "a rerun tries it again and says so again"
push "$work/a" --verify-only
is "$?" 0 "verify does not count the refused script again: it is an anomaly, recorded"

# --- the assessment says so before: the destination's extensions -------------
"$PUSH" --host "$WORLD_HOST" --port "$DST_SIEVE_PORT" --ca-file "$WORLD_CA" \
    --capabilities </dev/null >"$work/out" 2>"$work/err"
is "$?" 0 "sieve-push --capabilities asks Cyrus, with no password"
offered=$(done_field sieve)
like " $offered " " fileinto .* vacation " "Cyrus offers fileinto and vacation"
unlike " $offered " " (foreverypart|mime) " "but not foreverypart nor mime"
pull "$work/c" --mode assess --check-extensions "$offered" \
    --report "$work/assess.json"
is "$?" 0 "sieve-pull assesses against the destination's list"
is "$(grep '"event":"anomaly"' "$work/out" | jq -r '.kind + " " + .folder' | tr '\n' ' ')" \
    "sieve-extension zips " \
    "one anomaly: zips, the script Cyrus refused above, and only it"
like "$(grep '"event":"anomaly"' "$work/out" | jq -r .text)" \
    "needs foreverypart, mime, which the destination does not offer" \
    "it names what the destination lacks"
is "$(jq -cS '[.scripts[] | {(.name): .requires}] | add' "$work/assess.json")" \
    '{"spam":["fileinto"],"vacation":["vacation"],"zips":["foreverypart","mime","fileinto"]}' \
    "the report lists each script's require"
# and the orchestrator's assessment asks Cyrus once, then the report tells
umask 077
printf 'bob@example.org %s\n' "$BOB_PASSWORD" >"$work/passwords"
umask 022
cat >"$work/assess.yaml" <<EOT
state: $work/state
source:
  imap: imap://$WORLD_HOST:$SRC_IMAP_PORT
  sieve: sieve://$WORLD_HOST:$SRC_SIEVE_PORT
  ca_file: $WORLD_CA
  auth:
    passwords: {file: passwords}
destination:
  jmap: http://$WORLD_HOST:$DST_HTTP_PORT
  sieve: sieve://$WORLD_HOST:$DST_SIEVE_PORT
  ca_file: $WORLD_CA
  allow_plaintext: true
accounts:
  list: [bob@example.org]
phases:
  assessment:
EOT
M=$top/$O/bin/migrate
"$M" plan apply "$work/assess.yaml" >"$work/apply.out" 2>&1
is "$?" 0 "an assessment of bob with the plan"
is "$(sqlite3 "$work/state/state.db" "SELECT kind || ' ' ||
    json_extract(event, '$.folder') FROM anomalies WHERE kind LIKE
    'sieve-%'")" "sieve-extension zips" \
    "the state holds the anomaly"
is "$(sqlite3 "$work/state/state.db" "SELECT step || ' ' || exit FROM runs
    WHERE helper = 'sieve-push'")" "capabilities 0" \
    "sieve-push asked the destination once, and nothing was pushed"
"$M" --state "$work/state" report -o "$work/report.html" >/dev/null
like "$(grep -o '<tr><td>Sieve scripts[^<]*</td><td class="n">[0-9]*</td><td class="n">[0-9]*' "$work/report.html" | sed 's/<[^>]*>/|/g')" \
    '\|1\|\|1$' "the report's risks: one Sieve script, one account"

# --- credentials and TLS ------------------------------------------------------
PW=wrong pull "$work/b"
is "$?" 77 "a wrong password at the source: 77 (EX_NOPERM)"
[ ! -e "$work/b/segments" ] || [ -z "$(ls "$work/b/segments")" ]
is "$?" 0 "and nothing is written"
PW=wrong push "$work/a"
is "$?" 77 "a wrong password at the destination: 77"
pull "$work/b" --tls none
is "$?" 78 "a password in clear is refused without --allow-plaintext (78)"
like "$(cat "$work/err")" "without TLS" "and it says why"
printf 'password=%s\n\n' "$BOB_PASSWORD" | "$PULL" --host localhost \
    --port "$SRC_SIEVE_PORT" --ca-file "$WORLD_ROGUE_CA" --user "$BOB_LOGIN" \
    --archive "$work/b" >/dev/null 2>"$work/err"
is "$?" 69 "a certificate from another CA is refused (69)"
pull "$work/r" --mode assess --report "$work/report.json"
is "$?" 0 "assess"
is "$(jq -r '.totals.scripts' "$work/report.json") $(jq -r '[.scripts[] | select(.active) | .name] | join(",")' "$work/report.json")" \
    "3 spam" "the report counts the scripts and names the active one"
[ ! -e "$work/r" ]
is "$?" 0 "assess writes no archive"

done_testing
