# Public folders: imap-pull --public reads Dovecot's public namespace
# (Public/Announcements: alice may do everything, bob read), names its
# folders without the prefix and keeps every ACL entry, the login's own
# too; jmap-push writes them into the account that holds them on the
# destination (carol's here, the world having no shared account), shared
# as on the source, and bob reads them there.
. "$(dirname "$0")/lib.sh"
PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
ARCHIVE=$top/$O/bin/migrate-archive
URL=http://$WORLD_HOST:$DST_HTTP_PORT/.well-known/jmap
work=$(mktemp -d /var/tmp/t-public.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

pull() {	# [options]: alice's view of the public folders, by the master user
	printf 'password=%s\n\n' "$SRC_MASTER_PASSWORD" | "$PULL" \
	    --host localhost --port "$SRC_IMAP_PORT" --tls starttls \
	    --ca-file "$WORLD_CA" --user "$ALICE_LOGIN" --auth-user admin \
	    --master-separator '*' --public "$@" >"$work/pull" 2>&1
}
imap() {	# LOGIN PASSWORD PYTHON: run with `m`, imaplib on Cyrus
	printf '%s\n' "$2" | python3 -c "import imaplib, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.login(sys.argv[3], sys.stdin.readline().rstrip())
$3
m.logout()" "$WORLD_HOST" "$DST_IMAP_PORT" "$1"
}
cleanup() {
	imap "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "m.delete('Announcements')"
} >/dev/null 2>&1
cleanup

pull --mode assess --report "$work/assess.json"
is "$?" 0 "an assessment of the public folders"
is "$(jq -c '[.folders[] | [.name, .messages]]' "$work/assess.json")" \
    '[["Announcements",3]]' "it finds Announcements, 3 messages, and none of alice's own"
pull --archive "$work/arc"
is "$?" 0 "imap-pull --public copies them"
is "$("$ARCHIVE" ls "$work/arc" | cut -f1,2 | tr '\t' ' ')" "Announcements 3" \
    "the archive holds the folder without its prefix"
is "$(sqlite3 "$work/arc/index.db" "SELECT identifier || '=' || rights
    FROM folder_acls ORDER BY 1" | tr '\n' ' ')" \
    "alice@example.org=akxeilprwtscd bob@example.org=lrs " \
    "with every ACL entry, alice's own too"
unlike "$(cat "$work/pull")" "namespace-shared" "no anomaly says they are not read"

printf '%s %s\n%s %s\n' "$ALICE_LOGIN" "$ALICE_DEST_LOGIN" "$BOB_LOGIN" \
    "$BOB_DEST_LOGIN" >"$work/ready"
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PUSH" --url "$URL" \
    --allow-plaintext --user "$CAROL_DEST_LOGIN" --archive "$work/arc" \
    --share-ready "$work/ready" >"$work/push" 2>&1
is "$?" 0 "jmap-push writes them into the account that holds them"
out=$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.list('\"\"', '\"Other Users/*\"'))
print(m.myrights('\"Other Users/carol/Announcements\"'))
print(m.select('\"Other Users/carol/Announcements\"', readonly=True))")
like "$out" "Other Users/carol/Announcements" "bob lists the folder on Cyrus"
like "$out" "Announcements\" lrs'" "and reads it (MYRIGHTS lrs)"
like "$out" "\[b'3'\]" "its three messages"
cleanup

# --- through a plan: the public folders' account, and bob ---------------
# bob moves with them; alice, who may do everything there, does not in
# this plan, so her share waits, and status says so
M=$top/$O/bin/migrate
wipe "$BOB_PASSWORD" "$BOB_DEST_LOGIN"
wipe "$PUBLIC_PASSWORD" "$PUBLIC_DEST_LOGIN"
umask 077
printf '%s\n' "$SRC_MASTER_PASSWORD" >"$work/master-password"
printf 'bob@example.org %s\npublic@example.org %s\n' "$BOB_PASSWORD" \
    "$PUBLIC_PASSWORD" >"$work/passwords"
umask 022
cat >"$work/plan.yaml" <<EOT
name: public
state: $work/state
source:
  imap: imap://127.0.0.1:$SRC_IMAP_PORT
  ca_file: $WORLD_CA
  auth:
    master_user: admin
    master_separator: "*"
    master_password: {file: $work/master-password}
destination:
  jmap: http://127.0.0.1:$DST_HTTP_PORT
  allow_plaintext: true
  auth:
    passwords: {file: $work/passwords}
accounts:
  default_domain: example.org
  list: [bob@example.org]
  public_folders: {account: public, login: alice@example.org}
phases:
  waves:
    - name: all
EOT
MIGRATE_NO_PROGRESS=1 "$M" plan apply "$work/plan.yaml" >"$work/apply" 2>&1
is "$?" 0 "a plan with bob and the public folders applies"
[ "$?" = 0 ] || tail -5 "$work/apply" | sed 's/^/#   /'
is "$("$M" --state "$work/state" status --json | jq -c .totals)" '{"migrated":2}' \
    "both are migrated"
out=$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.myrights('\"Other Users/public/Announcements\"'))
print(m.select('\"Other Users/public/Announcements\"', readonly=True))")
like "$out" "Announcements\" lrs'" "bob reads the public folder in public@'s account"
like "$out" "\[b'3'\]" "its three messages"
like "$("$M" --state "$work/state" status)" \
    "sharing waits: public@example.org shares folders with alice@example.org" \
    "alice's rights wait for her, and status says so"
wipe "$PUBLIC_PASSWORD" "$PUBLIC_DEST_LOGIN" >/dev/null 2>&1
done_testing
