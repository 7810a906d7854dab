# pop3-uidl against the world's Dovecot (the source, STARTTLS) and Cyrus
# (the destination, after jmap-push): every message of carol's INBOX is
# matched by content, and each POP3 id is recorded against the body that
# Python's poplib fetches under that id, on both sides; a rerun replaces
# what it recorded; a new message is matched once pulled; a wrong
# password, a server that is down and an archive that is missing exit
# as pop3-uidl(8) says.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
UIDL=$top/$O/bin/pop3-uidl
HASHES=$top/tests/integration/pop3-hashes.py
work=$(mktemp -d /var/tmp/t-pop3-uidl.XXXXXX)
arc=$work/carol
cleanup() {
	wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN" >/dev/null 2>&1
	"$top/tests/world/world" reseed carol >/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
wipe "$CAROL_PASSWORD" "$CAROL_DEST_LOGIN" >/dev/null 2>&1

src_uidl() {	# [options]
	printf 'password=%s\n\n' "${PW:-$CAROL_PASSWORD}" | "$UIDL" \
	    --host "$WORLD_HOST" --port "${PORT:-$SRC_POP3_PORT}" \
	    --tls starttls --ca-file "$WORLD_CA" --user "$CAROL_LOGIN" \
	    --archive "$arc" "$@" >"$work/out" 2>"$work/err"
}
dst_uidl() {
	printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$UIDL" --side destination \
	    --host "$WORLD_HOST" --port "$DST_POP3_PORT" --tls none \
	    --allow-plaintext --user "$CAROL_DEST_LOGIN" --archive "$arc" \
	    "$@" >"$work/out" 2>"$work/err"
}
field() { grep '"event":"done"' "$work/out" | jq -r ".$1"; }
recorded() {	# SIDE: "UIDL HASH" lines, sorted
	sqlite3 "$arc/index.db" "SELECT uidl || ' ' || hash FROM pop3_uidls
	    WHERE side = '$1'" | sort
}
seen() {	# PORT LOGIN [--starttls]: what poplib fetches under each id
	printf '%s\n' "$CAROL_PASSWORD" | "$HASHES" --ca "$WORLD_CA" ${3-} \
	    "$WORLD_HOST" "$1" "$2" | sort
}
pull() {
	printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PULL" --host "$WORLD_HOST" \
	    --port "$SRC_IMAP_PORT" --ca-file "$WORLD_CA" --user "$CAROL_LOGIN" \
	    --archive "$arc" --mode auto >/dev/null 2>"$work/pull.err"
}

pull
is "$?" 0 "carol's mail is pulled"
inbox=$(sqlite3 "$arc/index.db" "SELECT count(*) FROM messages WHERE folder = 'INBOX'")

# --- the source ----------------------------------------------------------
src_uidl --report "$work/report.json"
is "$?" 0 "source: pop3-uidl exits 0"
is "$(field messages) $(field matched)" "$inbox $inbox" \
    "source: each of the $inbox messages of the INBOX is matched"
is "$(recorded source)" "$(seen "$SRC_POP3_PORT" "$CAROL_LOGIN" --starttls)" \
    "source: each id is recorded against the very body poplib fetches under it"
is "$(jq -r '.totals.matched' "$work/report.json")" "$inbox" "source: and the report says so"
src_uidl
is "$(recorded source | wc -l)" "$inbox" "source: a rerun replaces, it adds nothing"

# --- the destination, after the push ------------------------------------
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PUSH" --allow-plaintext \
    --url "http://$WORLD_HOST:$DST_HTTP_PORT" --user "$CAROL_DEST_LOGIN" \
    --archive "$arc" >/dev/null 2>&1
dst_uidl
is "$?" 0 "destination: pop3-uidl exits 0"
is "$(field matched)" "$inbox" "destination: every message is matched"
# the destination holds the bodies as pushed: a rescued one (repaired)
# differs from the archive's and is matched by its Message-ID alone
rescued=$(rescued_hashes "$arc")
is "$(diff <(recorded destination) <(seen "$DST_POP3_PORT" "$CAROL_DEST_LOGIN") |
    grep -c '^<' | tr -d ' ')" \
    "$(recorded destination | grep -c -F -f <(printf '%s\n' "$rescued" | grep . || echo NONE) | tr -d ' ')" \
    "destination: each id names the body poplib fetches, the rescued ones aside"
is "$(sqlite3 "$arc/index.db" "SELECT count(*) FROM pop3_uidls s JOIN
    pop3_uidls d USING (hash) WHERE s.side = 'source' AND d.side =
    'destination'")" "$inbox" \
    "each source id now has its destination id, through the body"

# --- a message that arrives afterwards ----------------------------------
printf '%s\n' "$CAROL_PASSWORD" | python3 -c '
import imaplib, ssl, sys
pw = sys.stdin.readline().rstrip("\n")
ctx = ssl.create_default_context(cafile=sys.argv[1]); ctx.check_hostname = False
m = imaplib.IMAP4(sys.argv[2], int(sys.argv[3])); m.starttls(ctx); m.login(sys.argv[4], pw)
m.append("INBOX", None, None, b"From: late@example.org\r\nSubject: late\r\nMessage-ID: <late.pop3@example.org>\r\n\r\nlate\r\n")
m.logout()' "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" "$CAROL_LOGIN"
src_uidl
is "$(field messages) $(field matched)" "$((inbox + 1)) $inbox" \
    "a message not pulled yet is not matched"
like "$(cat "$work/out")" '"kind":"pop3-unmatched"' "and is an anomaly"
pull
src_uidl
is "$(field matched)" "$((inbox + 1))" "once pulled, it is"

# --- failures ------------------------------------------------------------
PW=wrong src_uidl
is "$?" 77 "a wrong password exits 77"
case $(cat "$work/out" "$work/err") in
*wrong*) not_ok "and the password shows nowhere" ;;
*) ok "and the password shows nowhere" ;;
esac
PORT=1 src_uidl
is "$?" 69 "a server that is down exits 69"
printf 'password=x\n\n' | "$UIDL" --host "$WORLD_HOST" --user x \
    --archive "$work/none" >/dev/null 2>&1
is "$?" 66 "an archive that is not there exits 66"
is "$(recorded source | wc -l)" "$((inbox + 1))" "and nothing recorded is lost"

# --- the assessment reads who uses POP3 from the real servers' logs -------
# Dovecot's own log and Cyrus's syslog, against a count by grep
umask 077
printf 'carol@example.org %s\n' "$CAROL_PASSWORD" >"$work/passwords"
umask 022
cat >"$work/assess.yaml" <<PLAN
state: $work/state
source:
  imap: imap://127.0.0.1:$SRC_IMAP_PORT
  ca_file: $WORLD_CA
  auth:
    passwords: {file: $work/passwords}
destination:
  jmap: http://127.0.0.1:$DST_HTTP_PORT
  allow_plaintext: true
accounts:
  default_domain: example.org
  list: [carol]
phases:
  assessment:
    logs: [$WORLD_DIR/log/dovecot.log, $WORLD_DIR/log/syslog]
PLAN
want=$(( $(grep -c -i 'pop3-login: Info: Login: user=<carol\(@example.org\)\?>' \
    "$WORLD_DIR/log/dovecot.log") + $(grep -c -i 'pop3s\?\[[0-9]*\]: login: .*\] carol\(@example.org\)\? ' \
    "$WORLD_DIR/log/syslog") ))
MIGRATE_NO_PROGRESS=1 "$top/$O/bin/migrate" plan apply "$work/assess.yaml" \
    >"$work/assess.log" 2>&1
is "$?" 0 "an assessment with the source's logs applies"
got=$(jq -r .pop3_logins "$work/state/reports/carol@example.org.assess-pop3.json")
[ "$want" -ge 4 ] && ok "the logs hold carol's POP3 logins of this test ($want)" ||
    not_ok "the logs hold carol's POP3 logins of this test ($want)"
is "$got" "$want" "the assessment counts each of them, Dovecot's and Cyrus's"
like "$(cat "$work/assess.log")" "assessment: 1 of 1 accounts log in over POP3" \
    "and says so"

done_testing
