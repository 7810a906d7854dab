# A user the destination does not have: dave is on Dovecot only.  The
# plan reads the accounts and their password entries through Dovecot
# itself (doveadm user, doveadm auth lookup), the assessment says dave
# would be created and that the others exist, and the pilot provisions
# him on the real Cyrus with the command driver (tests/world/cyrus-account),
# moves his mail and flips him; then he logs in through migrate-proxy
# with the password he always had, over IMAP, POP3 and JMAP.  A rerun
# with the state lost creates nothing twice; no password entry is in the
# state or the audit repository.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy-lib.sh"
M=$top/$O/bin/migrate
CLIENT=$top/tests/integration/proxy-client.py
IMAP=26143 POP3=26110 HTTP=26080
WORLD=$top/tests/world/world
export MIGRATE_NO_PROGRESS=1
trap 'cleanup; "$WORLD" unprovision dave; "$WORLD" reseed dave >/dev/null' EXIT
"$WORLD" unprovision dave
"$WORLD" reseed dave >/dev/null	# as seeded: what the counts below assume

cat >"$work/proxy.yaml" <<EOF
default_domain: example.org
mapping: $work/mapping.db
control: $work/proxy.sock
listeners:
  - { protocol: imap, listen: 127.0.0.1:$IMAP }
  - { protocol: pop3, listen: 127.0.0.1:$POP3 }
  - { protocol: http, listen: 127.0.0.1:$HTTP }
backends:
  source:
    imap: { address: 127.0.0.1:$SRC_IMAP_PORT, tls: starttls,
            servername: localhost, ca_file: $WORLD_CA }
    pop3: { address: 127.0.0.1:$SRC_POP3S_PORT, tls: implicit,
            servername: localhost, ca_file: $WORLD_CA }
    http: { address: 127.0.0.1:$DAV_PORT, allow_plaintext: true }
  destination:
    imap: { address: 127.0.0.1:$DST_IMAP_PORT, allow_plaintext: true }
    pop3: { address: 127.0.0.1:$DST_POP3_PORT, allow_plaintext: true }
    http: { address: 127.0.0.1:$DST_HTTP_PORT, allow_plaintext: true }
EOF
umask 077
printf '%s\n' "$SRC_MASTER_PASSWORD" >"$work/master-password"
# the push logs in as dave: this world's Cyrus has no administrator
# impersonation through JMAP (Stalwart's would take destination.auth.token)
printf 'dave@example.org %s\n' "$DAVE_PASSWORD" >"$work/passwords"
umask 022
cat >"$work/plan.yaml" <<EOF
state: $work/state
mapping: $work/mapping.db
source:
  imap: imap://127.0.0.1:$SRC_IMAP_PORT
  ca_file: $WORLD_CA
  auth:
    master_user: $SRC_MASTER_USER
    master_separator: "$SRC_MASTER_SEPARATOR"
    master_password: {file: $work/master-password}
destination:
  jmap: http://127.0.0.1:$DST_HTTP_PORT
  allow_plaintext: true
  auth:
    passwords: {file: $work/passwords}
    login: "{account}"
provision:
  driver: command
  exists: "$top/tests/world/cyrus-account exists"
  create: "$top/tests/world/cyrus-account create"
  schemes: [PLAIN]
proxy:
  control: $work/proxy.sock
  hold_seconds: 30
limits:
  retries: 0
accounts:
  default_domain: example.org
  dovecot: doveadm -c $WORLD_DIR/dovecot/dovecot.conf
  dovecot_hash_field: migrate_hash
phases:
  assessment:
  pilot:
    accounts: [dave@example.org]
EOF
login() {	# PROTOCOL PORT USER PASSWORD
	printf '%s\n' "$4" | python3 "$CLIENT" "$1" "$2" none "$3" 2>&1
}
kept() {	# the emails of dave's corpus a push carries (not \Deleted; one
	# email for the same message in two folders, as JMAP counts them)
	awk -F '\t' '$2 !~ /Deleted/ { print $NF }' \
	    "$DAVE_CORPUS/manifest.tsv" | sort -u | wc -l
}
jmap_total() {	# PORT: how many emails dave's account holds, through JMAP
	local s id
	s=$(curl -sS -L --max-time 20 -u "dave@example.org:$DAVE_PASSWORD" \
	    "http://127.0.0.1:$1/.well-known/jmap")
	id=$(printf '%s' "$s" | jq -r '.primaryAccounts["urn:ietf:params:jmap:mail"]')
	curl -sS --max-time 20 -u "dave@example.org:$DAVE_PASSWORD" \
	    -H 'Content-Type: application/json' --data \
	    "{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\"],\"methodCalls\":[[\"Email/query\",{\"accountId\":\"$id\",\"calculateTotal\":true},\"q\"]]}" \
	    "http://127.0.0.1:$1/jmap/" | jq -r '.methodResponses[0][1].total'
}

start_proxy "$work/proxy.yaml" "$work/proxy.log" $IMAP ||
    not_ok "the proxy starts"
like "$(flat "$(login imap $IMAP dave@example.org "$DAVE_PASSWORD")")" 'login OK server Dovecot' \
    "before: dave logs in through the proxy, to Dovecot"
like "$(login imap $DST_IMAP_PORT dave@example.org "$DAVE_PASSWORD")" \
    'login NO' "before: Cyrus does not know dave"

"$M" plan apply "$work/plan.yaml" >"$work/apply.log" 2>&1
rc=$?
is "$rc" 0 "apply: assessment and pilot"
[ "$rc" = 0 ] || sed 's/^/#   /' "$work/apply.log" | tail -30
r=$work/state/reports
is "$(jq -r '.action + " " + .password.scheme + " " + .password.form' \
    "$r/dave@example.org.assess-provision.json")" "create PLAIN hash" \
    "assessment: dave would be created, his password carried"
is "$(jq -r '.action + " " + (.exists|tostring)' \
    "$r/alice@example.org.assess-provision.json")" "none true" \
    "assessment: alice exists and is left as she is"
is "$(ls "$r"/*.assess-provision.json | wc -l)" \
    "$(doveadm -c "$WORLD_DIR/dovecot/dovecot.conf" user '*' | wc -l)" \
    "assessment: one report per account doveadm lists"
is "$("$M" --state "$work/state" status --json dave@example.org | jq -r .state)" \
    migrated "pilot: dave is migrated"

like "$(flat "$(login imap $IMAP dave@example.org "$DAVE_PASSWORD")")" \
    'login OK server Cyrus.*exists [1-9]' \
    "after: IMAP through the proxy with his old password reaches Cyrus, his mail there"
like "$(flat "$(login pop3 $POP3 dave@example.org "$DAVE_PASSWORD")")" \
    'login OK.*Cyrus' "after: POP3 too"
like "$(login imap $IMAP dave@example.org wrong-password)" 'login NO' \
    "after: a wrong password is still refused"
is "$(jmap_total $HTTP)" "$(kept)" \
    "after: JMAP through the proxy with his old password: every message he had"

# the state is lost: the same plan makes nothing twice
rm -rf "${work:?}/state"
"$M" plan apply "$work/plan.yaml" >"$work/apply2.log" 2>&1
is "$?" 0 "lost state: the plan runs again"
like "$(cat "$work/state/log/apply.log")" 'dave@example.org: exists' \
    "lost state: dave exists, and is not made again"
is "$(sasldblistusers2 -f "$WORLD_DIR/cyrus/conf/sasldb2" | grep -c '^dave@example.org:')" \
    1 "lost state: one login"
is "$(jmap_total $DST_HTTP_PORT)" "$(kept)" \
    "lost state: nothing twice on Cyrus"

# the same accounts and entries through Dovecot's doveadm HTTP API
umask 077
printf '%s\n' "$SRC_DOVEADM_KEY" >"$work/doveadm-key"
printf 'wrong\n' >"$work/wrong-key"
umask 022
sed -e "s|^state: .*|state: $work/state2|" \
    -e "s|^  dovecot: .*|  doveadm_url: $SRC_DOVEADM_URL\\n  doveadm_api_key: {file: $work/doveadm-key}|" \
    -e "s|^  ca_file: $WORLD_CA|  ca_file: $WORLD_CA\\n  allow_plaintext: true|" \
    -e '/^  pilot:/,$d' "$work/plan.yaml" | sed 's/\\n/\n/g' >"$work/api.yaml"
like "$("$M" plan validate "$work/api.yaml" 2>&1)" "valid: 5 accounts" \
    "doveadm HTTP API: the accounts doveadm lists"
"$M" plan apply "$work/api.yaml" >"$work/apply3.log" 2>&1
is "$?" 0 "doveadm HTTP API: an assessment"
is "$(jq -r '.action + " " + .password.scheme + " " + .password.form' \
    "$work/state2/reports/dave@example.org.assess-provision.json")" \
    "none PLAIN hash" "doveadm HTTP API: dave (made above) exists; his entry from the userdb's field"
sed "s|{file: $work/doveadm-key}|{file: $work/wrong-key}|" "$work/api.yaml" \
    >"$work/bad.yaml"
like "$("$M" plan validate "$work/bad.yaml" 2>&1)" "HTTP 401: the API key is refused" \
    "doveadm HTTP API: a wrong key is named"
sed "s|^  allow_plaintext: true||" "$work/api.yaml" >"$work/bad.yaml"
like "$("$M" plan validate "$work/bad.yaml" 2>&1)" "in clear" \
    "doveadm HTTP API: no key over plain http without allow_plaintext"

leaks "$work/state" "$work/state2"
is "$?" 0 "no password, hash nor API key in the state, decompressed: git objects, SQLite, archives, logs, reports"
done_testing
