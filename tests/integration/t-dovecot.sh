# Dovecot, the source: real logins, TLS both ways, the master user, a bare
# login, every store type, POP3, ManageSieve and LMTP.
. "$(dirname "$0")/lib.sh"

smoke() {	# smoke PASSWORD ARGS...
	local pw=$1
	shift
	printf 'password=%s\n\n' "$pw" | "$SMOKE" "$@" 2>&1
}

out=$(smoke "$ALICE_PASSWORD" -C "$WORLD_CA" -m starttls \
    "$WORLD_HOST" "$SRC_IMAP_PORT" "$ALICE_LOGIN" INBOX)
is "$?" 0 "alice over STARTTLS, verified against the world's CA"
like "$out" '^tls TLSv1\.[23] ' "the session is TLS 1.2 or newer"
is "$(value list "$out")" 20 \
    "alice lists the corpus's 18 folders, and Public/ with its Announcements"
is "$(value exists "$out")" "$(manifest_count "$ALICE_CORPUS" INBOX)" \
    "alice's INBOX holds what the corpus put there"
like "$(value fetched "$out")" '^[0-9]+$' "FETCH BODY.PEEK[] read a message"
is "$(value seen-after "$out")" "$(value seen-before "$out")" \
    "BODY.PEEK[] left \\Seen alone"

out=$(smoke "$SRC_MASTER_PASSWORD" -C "$WORLD_CA" -m implicit -n localhost \
    "$WORLD_HOST" "$SRC_IMAPS_PORT" \
    "$ALICE_LOGIN$SRC_MASTER_SEPARATOR$SRC_MASTER_USER" Archive)
is "$?" 0 "the master user reads alice's mail over implicit TLS"
is "$(value exists "$out")" "$(manifest_count "$ALICE_CORPUS" Archive)" \
    "alice's Archive, through the master user"

out=$(smoke "$BOB_PASSWORD" -C "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" \
    "$BOB_LOGIN" "Projects/Alpha")
is "$?" 0 "bob (mdbox) logs in"
is "$(value exists "$out")" "$(manifest_count "$BOB_CORPUS" Projects/Alpha)" \
    "bob's mdbox holds his corpus"

out=$(smoke "$CAROL_PASSWORD" -C "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" \
    "$CAROL_LOGIN" "Archive.2019")
is "$?" 0 "carol logs in with a bare name"
is "$CAROL_LOGIN" carol "carol's login has no domain"
is "$(value exists "$out")" "$(manifest_count "$CAROL_CORPUS" Archive/2019)" \
    "carol's folders use '.' as separator"

out=$(smoke wrong-password -C "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" \
    "$ALICE_LOGIN" INBOX)
is "$?" 77 "a wrong password is refused (exit 77)"

out=$(smoke "$ALICE_PASSWORD" -C "$WORLD_ROGUE_CA" "$WORLD_HOST" \
    "$SRC_IMAP_PORT" "$ALICE_LOGIN" INBOX)
is "$?" 69 "a certificate from another CA is refused"
like "$out" 'not trusted' "and the error says the certificate is not trusted"

out=$(smoke "$ALICE_PASSWORD" -k -C "$WORLD_ROGUE_CA" "$WORLD_HOST" \
    "$SRC_IMAP_PORT" "$ALICE_LOGIN" INBOX)
is "$?" 0 "the explicit insecure option skips verification"

# POP3 with STLS, through curl
out=$(curl -sS --max-time 20 --ssl-reqd --cacert "$WORLD_CA" \
    --url "pop3://localhost:$SRC_POP3_PORT/" \
    --user "$ALICE_LOGIN:$ALICE_PASSWORD" 2>&1)
like "$out" '^1 [0-9]+' "POP3 with STLS lists alice's INBOX"
is "$(printf '%s\n' "$out" | grep -c .)" \
    "$(manifest_count "$ALICE_CORPUS" INBOX)" "POP3 sees every INBOX message"

# ManageSieve: the corpus's active and inactive scripts
sieve_auth=$(printf '\0%s\0%s' "$ALICE_LOGIN" "$ALICE_PASSWORD" | base64 -w0)
out=$(exec 3<>"/dev/tcp/$WORLD_HOST/$SRC_SIEVE_PORT"
	printf 'AUTHENTICATE "PLAIN" "%s"\r\nLISTSCRIPTS\r\nLOGOUT\r\n' \
	    "$sieve_auth" >&3
	timeout 5 cat <&3)
like "$out" '^"main" ACTIVE' "ManageSieve lists the active script"
like "$out" '^"vacation"' "and the inactive one"

# LMTP delivery to the benchmark user, then IMAP finds it
before=$(smoke "$BENCH_PASSWORD" -C "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" \
    "$BENCH_LOGIN" INBOX | sed -n 's/^exists //p')
out=$(exec 3<>"/dev/tcp/$WORLD_HOST/$SRC_LMTP_PORT"
	printf 'LHLO test\r\nMAIL FROM:<t@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\nSubject: lmtp\r\n\r\nhello\r\n.\r\nQUIT\r\n' \
	    "$BENCH_LOGIN" >&3
	timeout 5 cat <&3)
like "$out" '^250 2\.0\.0 <bench@example\.org> .*Saved' "LMTP delivers"
after=$(smoke "$BENCH_PASSWORD" -C "$WORLD_CA" "$WORLD_HOST" "$SRC_IMAP_PORT" \
    "$BENCH_LOGIN" INBOX | sed -n 's/^exists //p')
is "$after" "$((${before:-0} + 1))" "the delivered message is in the INBOX"

done_testing
