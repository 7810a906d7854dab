# Folder ACLs carried as JMAP sharing.  Cyrus is the source here, the
# second one (t-migrate has Dovecot's, alice's folder she shares with bob,
# through the whole plan): carol's folder "ShareSrc", shared
# with bob, is pulled with its ACL, pushed into alice's account on the
# destination, and bob, once he is on the destination, sees it there
# with the rights the destination can say, over IMAP and over JMAP.
. "$(dirname "$0")/lib.sh"
PULL=$top/$O/bin/imap-pull
PUSH=$top/$O/bin/jmap-push
URL=http://$WORLD_HOST:$DST_HTTP_PORT/.well-known/jmap
work=$(mktemp -d /var/tmp/t-share.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

imap() {	# LOGIN PASSWORD PYTHON: run with `m`, imaplib on Cyrus
	printf '%s\n' "$2" | python3 -c "import imaplib, ssl, sys
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.starttls(ssl.create_default_context(cafile=sys.argv[3]))
m.login(sys.argv[4], sys.stdin.readline().rstrip())
$3
m.logout()" "$WORLD_HOST" "$DST_IMAP_PORT" "$WORLD_CA" "$1"
}
push() {	# [options]: carol's archive into alice's account
	printf 'password=%s\n\n' "$ALICE_PASSWORD" | "$PUSH" --url "$URL" \
	    --allow-plaintext --user "$ALICE_DEST_LOGIN" \
	    --archive "$work/arc" "$@" >"$work/out" 2>"$work/err"
}
done_field() {
	grep '"event":"done"' "$work/out" | jq -c ".$1"
}
anomaly() {	# KIND: its texts
	grep '"event":"anomaly"' "$work/out" | jq -r "select(.kind == \"$1\") |
	    .folder + \": \" + .text"
}
cleanup() {
	imap "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "m.delete('ShareSrc')"
	imap "$ALICE_DEST_LOGIN" "$ALICE_PASSWORD" "m.delete('ShareSrc')"
} >/dev/null 2>&1
cleanup

# --- the source: a folder carol shares ---------------------------------
imap "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "m.create('ShareSrc')
for i in range(2):
    m.append('ShareSrc', '()', None,
             b'From: x@example.org\r\nSubject: team %d\r\n\r\nbody\r\n' % i)
m.setacl('ShareSrc', 'bob@example.org', 'lrswi')
m.setacl('ShareSrc', 'anyone', 'lr')" >/dev/null
printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PULL" --host localhost \
    --port "$DST_IMAPS_PORT" --tls implicit --ca-file "$WORLD_CA" \
    --user "$CAROL_DEST_LOGIN" --archive "$work/arc" --include 'ShareSrc' \
    >"$work/pull" 2>&1
is "$?" 0 "carol's shared folder is pulled from Cyrus"
is "$(sqlite3 "$work/arc/index.db" "SELECT identifier || '=' || rights
    FROM folder_acls ORDER BY 1" | tr '\n' ' ')" \
    "anyone=lr bob@example.org=lrswi " "its ACL is in the archive"

# --- bob is not on the destination yet: pending ------------------------
: >"$work/ready"
push --share-ready "$work/ready"
is "$?" 0 "the push exits 0 while bob is not on the destination"
is "$(done_field shares.pending)" '["bob@example.org"]' \
    "bob's share is pending, named in the done event"
like "$(anomaly share-unsupported)" "ShareSrc: 'anyone' names no one account" \
    "'anyone' is named as not carried"
out=$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.list('\"\"', '\"Other Users/*\"'))")
like "$out" "^\('OK'" "bob lists the other users' folders"
unlike "$out" "Other Users/alice/ShareSrc" "bob does not see alice's folder yet"

# --- bob arrives: the share is written ---------------------------------
printf '%s %s\n' "$BOB_LOGIN" "$BOB_DEST_LOGIN" >"$work/ready"
push --share-ready "$work/ready" --shares-only
is "$?" 0 "--shares-only exits 0 once bob is on the destination"
is "$(done_field shares.pending)" '[]' "nothing is pending any more"
is "$(done_field shares.set)" 1 "one mailbox's sharing is written"
is "$(done_field shares.ready)" 1 "the done event counts the accounts ready"
is "$(done_field imported)" 0 "--shares-only imports nothing"
like "$(anomaly share-right-lost)" "ShareSrc: 'bob@example.org' had 'lrswi'; the destination cannot say 'wi'" \
    "the rights the destination cannot say are named"
out=$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.list('\"\"', '\"Other Users/*\"'))
print(m.myrights('\"Other Users/alice/ShareSrc\"'))
m.select('\"Other Users/alice/ShareSrc\"', readonly=True)
print(m.search(None, 'ALL'))")
like "$out" "Other Users/alice/ShareSrc" "bob lists alice's folder (IMAP LIST)"
like "$out" "alice/ShareSrc\" lrs'" "bob's rights there are lrs (IMAP MYRIGHTS)"
like "$out" "'1 2'" "bob reads its two messages"

# JMAP as bob: alice's account, and the mailbox in it
jm=$(curl -s -u "$BOB_DEST_LOGIN:$BOB_PASSWORD" -H 'Content-Type: application/json' \
    "http://$WORLD_HOST:$DST_HTTP_PORT/jmap/" -d '{"using":
    ["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail"], "methodCalls":
    [["Mailbox/get", {"accountId": "'"$ALICE_DEST_LOGIN"'",
    "properties": ["name", "myRights"]}, "0"]]}')
is "$(printf '%s' "$jm" | jq -r '.methodResponses[0][1].list[] |
    select(.name == "ShareSrc") | [.myRights.mayReadItems,
    .myRights.mayAddItems] | map(tostring) | join(" ")')" "true false" \
    "bob's JMAP Mailbox/get in alice's account: may read, may not add"

# bob's own pull sees both shared folders, records their owners, and
# copies neither: each is its owner's to carry, once
bobpull() {	# options...
	printf 'password=%s\n\n' "$BOB_PASSWORD" | "$PULL" --host localhost \
	    --port "$DST_IMAPS_PORT" --tls implicit --ca-file "$WORLD_CA" \
	    --user "$BOB_DEST_LOGIN" "$@" >"$work/bobpull" 2>&1
}
bobpull --mode assess --report "$work/bob.json"
is "$(jq -c '[.seen[] | select(.folder | endswith("ShareSrc")) |
    [.owner, .namespace]] | sort' "$work/bob.json")" \
    '[["alice","other"],["carol","other"]]' \
    "bob's assessment lists the two folders shared with him, with their owners"
bobpull --archive "$work/bob"
is "$(sqlite3 "$work/bob/index.db" "SELECT count(*) FROM folders
    WHERE name LIKE '%ShareSrc%'")" 0 \
    "bob's pull copies neither: each is stored once, by its owner"

# a rerun has nothing to write
push --share-ready "$work/ready" --shares-only
is "$(done_field shares.set)" 0 "a rerun writes no sharing that is there already"

# carol stops sharing with bob before her cutover: the next pass takes
# bob's access away on the destination too; sharing again gives it back
pullcarol() {
	printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$PULL" --host localhost \
	    --port "$DST_IMAPS_PORT" --tls implicit --ca-file "$WORLD_CA" \
	    --user "$CAROL_DEST_LOGIN" --archive "$work/arc" --include 'ShareSrc' \
	    --mode delta >"$work/pull" 2>&1
}
imap "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "m.deleteacl('ShareSrc', 'bob@example.org')" >/dev/null
pullcarol
push --share-ready "$work/ready"
is "$(done_field shares.set)" 1 "a folder no longer shared at the source is written once more"
like "$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.list('\"\"', '\"Other Users/*\"'))")" \
    "^\('OK'" "bob lists the other users' folders"
unlike "$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.list('\"\"', '\"Other Users/*\"'))")" \
    "alice/ShareSrc" "and no longer sees it on the destination"
imap "$CAROL_DEST_LOGIN" "$CAROL_PASSWORD" "m.setacl('ShareSrc', 'bob@example.org', 'lrswi')" >/dev/null
pullcarol
push --share-ready "$work/ready"
like "$(imap "$BOB_DEST_LOGIN" "$BOB_PASSWORD" "print(m.list('\"\"', '\"Other Users/*\"'))")" \
    "alice/ShareSrc" "shared again at the source, it is shared again on the destination"

# after the cutover the user may share on the destination too: a push
# leaves the sharing alone, and --shares-only adds its grantees one by one
# (here bob, as if he had been pending, and carol, shared by alice there)
jalice() {	# METHOD-CALLS: as alice, in her account
	curl -s -u "$ALICE_DEST_LOGIN:$ALICE_PASSWORD" -H 'Content-Type: application/json' \
	    "http://$WORLD_HOST:$DST_HTTP_PORT/jmap/" -d '{"using":
	    ["urn:ietf:params:jmap:core","urn:ietf:params:jmap:mail",
	    "https://cyrusimap.org/ns/jmap/mail"], "methodCalls": '"$1"'}'
}
mbox=$(jalice '[["Mailbox/get", {"accountId": "'"$ALICE_DEST_LOGIN"'",
    "properties": ["name"]}, "0"]]' |
    jq -r '.methodResponses[0][1].list[] | select(.name == "ShareSrc") | .id')
jalice '[["Mailbox/set", {"accountId": "'"$ALICE_DEST_LOGIN"'", "update":
    {"'"$mbox"'": {"shareWith/carol@example.org": {"mayRead": true},
    "shareWith/bob@example.org": null}}}, "0"]]' >/dev/null
push --share-ready "$work/ready" --after-cutover
is "$(done_field shares)" null "after the cutover, a push leaves the sharing alone"
push --share-ready "$work/ready" --after-cutover --shares-only
is "$(jalice '[["Mailbox/get", {"accountId": "'"$ALICE_DEST_LOGIN"'",
    "ids": ["'"$mbox"'"], "properties": ["shareWith"]}, "0"]]' |
    jq -c '.methodResponses[0][1].list[0].shareWith | keys')" \
    '["bob@example.org","carol@example.org"]' \
    "--shares-only after the cutover adds bob again and keeps what alice shared herself"

cleanup
done_testing
