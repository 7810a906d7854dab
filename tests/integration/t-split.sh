# Split delivery keyed by the mapping, with real MTAs: the world's
# Postfix is the source's MX (before Dovecot's LMTP) and asks
# migrate-proxy's socketmap where each recipient lives; a second Postfix
# receives for the destination (before Cyrus's LMTP).  Python's smtplib
# sends.  A message to a flipped user, to one not flipped and to both
# is delivered once to the right mailbox; delivery follows a flip and a
# rollback at once; a held account's mail waits; with the proxy or the
# destination down nothing is lost and nothing lands on the wrong side.
# Each message has a sender of its own: Postfix keeps the last address it
# resolved, with its sender, for 30 s in each process (resolve_clnt.c),
# so mail from the same sender to the same account within 30 s of a flip
# may still go the old way (migrate-proxy(8) says what covers that).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy-lib.sh"
DOVEADM="doveadm -c $WORLD_DIR/dovecot/dovecot.conf"
export MIGRATE_LOG_LEVEL=info
cleanup_mail() {
	local u
	for u in bob@example.org alice@example.org; do
		$DOVEADM expunge -u "$u" mailbox INBOX header X-Split-Test yes \
		    2>/dev/null
	done
	for u in bob alice; do
		cyrus_expunge "$u@example.org" "$(pw_of "$u")"
	done
}
trap 'cleanup; cleanup_mail; "$top/tests/world/world" start >/dev/null 2>&1' EXIT

pw_of() { case $1 in bob) echo "$BOB_PASSWORD" ;; alice) echo "$ALICE_PASSWORD" ;; esac; }
cyrus_expunge() {	# LOGIN PASSWORD: the test's messages out of Cyrus
	printf '%s\n' "$2" | python3 -c '
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login(sys.argv[2], sys.stdin.readline().strip())
c.select("INBOX")
t, d = c.search(None, "HEADER", "X-Split-Test", "yes")
for n in d[0].split():
	c.store(n, "+FLAGS", "\\Deleted")
c.expunge()
c.logout()' "$DST_IMAP_PORT" "$1"
}
# on_source USER ID / on_dest USER ID: how many copies of message ID
on_source() {
	$DOVEADM search -u "$1" mailbox INBOX header Message-ID "<$2>" \
	    2>/dev/null | wc -l
}
on_dest() {
	printf '%s\n' "$(pw_of "${1%@*}")" | python3 -c '
import imaplib, sys
c = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
c.login(sys.argv[2], sys.stdin.readline().strip())
c.select("INBOX", readonly=True)
t, d = c.search(None, "HEADER", "Message-ID", "<%s>" % sys.argv[3])
print(len(d[0].split()))
c.logout()' "$DST_IMAP_PORT" "${1%@*}@example.org" "$2"
}
send() {	# ID RCPT...: what the MX answered, as "sent", or the refusals
	python3 - "$SRC_SMTP_PORT" "$@" <<-'EOF'
	import smtplib, sys
	port, mid, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
	sender = "s-%s@sender.test" % mid.split("@")[0]
	msg = ("From: %s\r\nTo: %s\r\nSubject: split\r\n"
	       "Message-ID: <%s>\r\nX-Split-Test: yes\r\n\r\nhello\r\n"
	       % (sender, ", ".join(rcpts), mid))
	s = smtplib.SMTP("127.0.0.1", port)
	try:
	    refused = s.sendmail(sender, rcpts, msg)
	    print("sent", " ".join(sorted(refused)) if refused else "")
	except smtplib.SMTPRecipientsRefused as e:
	    print("refused", " ".join("%s %s" % (r, c) for r, (c, _) in
	                             sorted(e.recipients.items())))
	s.quit()
	EOF
}
# wait_for WHERE USER ID: until the copy arrives (10 s at most)
wait_for() {
	local i
	for i in $(seq 50); do
		[ "$("$1" "$2" "$3")" -ge 1 ] && return 0
		sleep 0.2
	done
	return 1
}
flip() {	# ACCOUNT ROUTE
	"$FLIP" --store "$work/mapping.db" --domain example.org \
	    --control "$work/proxy.sock" "$1" "$2" >/dev/null 2>&1
}
id() { echo "split-$1-$$@test"; }

cat >"$work/proxy.yaml" <<EOF
default_domain: example.org
mapping: $work/mapping.db
control: $work/proxy.sock
listeners:
  - { protocol: socketmap, listen: 127.0.0.1:$SPLIT_PORT,
      destination: "smtp:[127.0.0.1]:$DST_SMTP_PORT" }
EOF
like "$("$P" -t -c "$work/proxy.yaml" 2>&1)" "good" "-t: a socketmap listener"
sed '/destination: "smtp/d; s/listen: 127.0.0.1:'$SPLIT_PORT',/listen: 127.0.0.1:'$SPLIT_PORT' }/' \
    "$work/proxy.yaml" >"$work/bad.yaml"
like "$("$P" -t -c "$work/bad.yaml" 2>&1)" "needs 'destination'" \
    "-t: a socketmap needs the destination's transport"

# the proxy not running: the MX tells the sender to retry
like "$(send "$(id noproxy)" bob@example.org)" "refused bob@example.org 451" \
    "no socketmap: 451, the sender retries"
start_proxy "$work/proxy.yaml" "$work/proxy.log" $SPLIT_PORT ||
    not_ok "the proxy starts"
flip alice@example.org destination

is "$(send "$(id one)" bob@example.org)" "sent " "to bob (on the source): accepted"
is "$(send "$(id two)" alice@example.org)" "sent " "to alice (flipped): accepted"
is "$(send "$(id both)" bob@example.org alice@example.org)" "sent " \
    "to both in one transaction: accepted"
wait_for on_source bob@example.org "$(id one)"
wait_for on_dest alice "$(id two)"
wait_for on_source bob@example.org "$(id both)"
wait_for on_dest alice "$(id both)"
sleep 1
is "$(on_source bob@example.org "$(id one)") $(on_dest bob "$(id one)")" "1 0" \
    "bob's message: once, on Dovecot"
is "$(on_dest alice "$(id two)") $(on_source alice@example.org "$(id two)")" "1 0" \
    "alice's message: once, on Cyrus"
is "$(on_source bob@example.org "$(id both)") $(on_dest alice "$(id both)") $(on_source alice@example.org "$(id both)") $(on_dest bob "$(id both)")" \
    "1 1 0 0" "the message to both: once each, each on its side"

# a rollback: at once
flip alice@example.org source
send "$(id back)" alice@example.org >/dev/null
wait_for on_source alice@example.org "$(id back)"
is "$(on_source alice@example.org "$(id back)") $(on_dest alice "$(id back)")" "1 0" \
    "after a rollback, alice's next message is on Dovecot"
flip alice@example.org destination
send "$(id again)" alice@example.org >/dev/null
wait_for on_dest alice "$(id again)"
is "$(on_dest alice "$(id again)") $(on_source alice@example.org "$(id again)")" "1 0" \
    "after the flip again, on Cyrus at once"

# held for a cutover: the mail waits, then goes where the flip says
"$FLIP" --domain example.org --control "$work/proxy.sock" --hold 30 \
    bob@example.org >/dev/null 2>&1
out=$(send "$(id held)" bob@example.org)
sleep 2
is "$(on_source bob@example.org "$(id held)") $(on_dest bob "$(id held)")" "0 0" \
    "held: the message is delivered nowhere yet ($out)"
flip bob@example.org destination
"$FLIP" --domain example.org --control "$work/proxy.sock" --release \
    bob@example.org >/dev/null 2>&1
[ "${out%% *}" = refused ] && send "$(id held)" bob@example.org >/dev/null
postqueue -c "$WORLD_DIR/postfix-src" -f
wait_for on_dest bob "$(id held)"
is "$(on_dest bob "$(id held)") $(on_source bob@example.org "$(id held)")" "1 0" \
    "released after the flip: delivered once, to the destination"
flip bob@example.org source

# the destination's MX down: queued at the source's MX, never misrouted
postfix -c "$WORLD_DIR/postfix-dst" stop >/dev/null 2>&1
is "$(send "$(id down)" alice@example.org)" "sent " \
    "destination down: the source's MX takes the message into its queue"
sleep 2
is "$(on_source alice@example.org "$(id down)")" 0 "destination down: not delivered to the source"
like "$(postqueue -c "$WORLD_DIR/postfix-src" -p)" "alice@example.org" \
    "destination down: the message waits in the queue"
postfix -c "$WORLD_DIR/postfix-dst" start >/dev/null 2>&1
postqueue -c "$WORLD_DIR/postfix-src" -f
wait_for on_dest alice "$(id down)"
is "$(on_dest alice "$(id down)") $(on_source alice@example.org "$(id down)")" "1 0" \
    "destination back: delivered once, to Cyrus"

# the proxy down while an account is flipped: retry, never the source
kill $pids; wait 2>/dev/null; pids=
like "$(send "$(id noproxy2)" alice@example.org)" "refused alice@example.org 451" \
    "proxy down: 451 for a flipped account too"
is "$(on_source alice@example.org "$(id noproxy2)")" 0 "proxy down: nothing delivered to the source"
like "$(cat "$work/proxy.log")" "socketmap" "the proxy logs its answers"
done_testing
