# Cyrus, the destination: JMAP session, blob upload, Email/import and
# Email/get round trip (bytes, keywords, date), over HTTP and HTTPS, and
# IMAP logins.
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base="http://$WORLD_HOST:$DST_HTTP_PORT"
cred="$ALICE_DEST_LOGIN:$ALICE_PASSWORD"
C=(curl -sS --max-time 30 --user "$cred")

session=$("${C[@]}" -L "$DST_JMAP_URL")
is "$?" 0 "GET /.well-known/jmap (redirected) answers"
acct=$(printf '%s' "$session" | jq -r '.primaryAccounts["urn:ietf:params:jmap:mail"]')
is "$acct" "$ALICE_DEST_LOGIN" "the session names alice's mail account"
like "$(printf '%s' "$session" | jq -r '.capabilities | keys[]')" \
    '^urn:ietf:params:jmap:core$' "the session has the core capability"
api=$base$(printf '%s' "$session" | jq -r .apiUrl)
upload=$base$(printf '%s' "$session" | jq -r .uploadUrl | sed "s/{accountId}/$acct/")
download=$base$(printf '%s' "$session" | jq -r .downloadUrl)

jmap() {	# jmap METHOD-CALLS-JSON
	"${C[@]}" -H 'Content-Type: application/json' --data-binary \
	    "{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\"],\"methodCalls\":$1}" \
	    "$api"
}

# a message with CRLF, 8-bit text and a unique Message-ID
mid="smoke-$$-$(date +%s%N)@test.example.org"
printf 'From: Smoke <smoke@example.net>\r\nTo: %s\r\nSubject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <%s>\r\nDate: Sat, 03 Feb 2001 04:05:06 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\303\274\303\237e aus K\303\266ln.\r\n' \
    "$ALICE_DEST_LOGIN" "$mid" >"$tmp/msg.eml"

up=$("${C[@]}" -H 'Content-Type: message/rfc822' --data-binary @"$tmp/msg.eml" "$upload")
blob=$(printf '%s' "$up" | jq -r .blobId)
like "$blob" '^G[0-9a-f]+' "the message uploads as a blob"
is "$(printf '%s' "$up" | jq -r .size)" "$(stat -c %s "$tmp/msg.eml")" \
    "the blob has the message's size"

inbox=$(jmap '[["Mailbox/query",{"accountId":"'"$acct"'","filter":{"role":"inbox"}},"q"]]' |
    jq -r '.methodResponses[0][1].ids[0]')
like "$inbox" '.' "Mailbox/query finds the inbox by role"

import='[["Email/import",{"accountId":"'"$acct"'","emails":{"m1":{"blobId":"'"$blob"'","mailboxIds":{"'"$inbox"'":true},"keywords":{"$seen":true,"$flagged":true,"Project-X":true},"receivedAt":"2001-02-03T04:05:06Z"}}},"i"]]'
res=$(jmap "$import")
id=$(printf '%s' "$res" | jq -r '.methodResponses[0][1].created.m1.id')
like "$id" '^M' "Email/import creates the email"

got=$(jmap '[["Email/get",{"accountId":"'"$acct"'","ids":["'"$id"'"],"properties":["blobId","keywords","receivedAt","size","mailboxIds","messageId"]},"g"]]' |
    jq -c '.methodResponses[0][1].list[0]')
is "$(printf '%s' "$got" | jq -r .receivedAt)" "2001-02-03T04:05:06Z" \
    "receivedAt is the date given"
is "$(printf '%s' "$got" | jq -r '.keywords | keys | join(" ")')" \
    '$flagged $seen project-x' "keywords come back (lower-cased by Cyrus)"
is "$(printf '%s' "$got" | jq -r '.messageId[0]')" "$mid" "the Message-ID is kept"
gblob=$(printf '%s' "$got" | jq -r .blobId)
url=$(printf '%s' "$download" | sed "s/{accountId}/$acct/; s/{blobId}/$gblob/; s/{name}/m.eml/; s|{type}|message/rfc822|")
"${C[@]}" -o "$tmp/back.eml" "$url"
if cmp -s "$tmp/msg.eml" "$tmp/back.eml"; then
	ok "the downloaded message is byte for byte the one imported"
else
	not_ok "the downloaded message is byte for byte the one imported"
fi

res=$(jmap "$import")
is "$(printf '%s' "$res" | jq -r '.methodResponses[0][1].notCreated.m1.type')" \
    alreadyExists "importing it again answers alreadyExists"
is "$(printf '%s' "$res" | jq -r '.methodResponses[0][1].notCreated.m1.existingId')" \
    "$id" "with the existing email's id"

res=$(jmap '[["Email/set",{"accountId":"'"$acct"'","destroy":["'"$id"'"]},"d"]]')
is "$(printf '%s' "$res" | jq -r '.methodResponses[0][1].destroyed[0]')" "$id" \
    "the test email is destroyed again"

code=$(curl -sS -o /dev/null -w '%{http_code}' --user "$ALICE_DEST_LOGIN:wrong" -L "$DST_JMAP_URL")
is "$code" 401 "a wrong password gets 401"

out=$(curl -sS --max-time 30 --cacert "$WORLD_CA" --user "$cred" -L "$DST_JMAPS_URL" | jq -r .username)
is "$out" "$ALICE_DEST_LOGIN" "JMAP over HTTPS, verified against the world's CA"
curl -sS --max-time 30 --user "$cred" -L "$DST_JMAPS_URL" >/dev/null 2>&1
is "$?" 60 "and refused without it"

out=$(printf 'password=%s\n\n' "$CAROL_PASSWORD" | "$SMOKE" -C "$WORLD_CA" \
    -m starttls "$WORLD_HOST" "$DST_IMAP_PORT" "$CAROL_DEST_LOGIN" INBOX 2>&1)
is "$?" 0 "IMAP STARTTLS login to Cyrus as carol@example.org"
like "$(value list "$out")" '^([6-9]|[1-9][0-9]+)$' \
    "carol has the INBOX and the special-use folders"
out=$(printf 'password=%s\n\n' "$DST_ADMIN_PASSWORD" | "$SMOKE" -C "$WORLD_CA" \
    -m implicit -n localhost "$WORLD_HOST" "$DST_IMAPS_PORT" "$DST_ADMIN_USER" INBOX 2>&1)
like "$out" 'login ok' "the admin logs in over implicit TLS"

done_testing
