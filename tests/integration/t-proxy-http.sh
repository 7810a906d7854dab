# migrate-proxy's HTTP listeners in front of the real world: Radicale the
# DAV source, Cyrus the JMAP/DAV destination, curl the client.  Each
# request routed by its Authorization (Basic, a Bearer JWT, none), over
# HTTP and HTTPS, two accounts on one connection, a chunked upload and a
# byte-exact download, failures relayed or answered, Forwarded, a kick.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/proxy-lib.sh"

HTTP=31080 HTTPS=31443 HTTP2=31082 HTTP3=31083 ECHO=31084 DEAD=31998
C=(curl -sS --max-time 30 --cacert "$WORLD_CA")
A=(--user "alice:$ALICE_PASSWORD")
B=(--user "$BOB_DEST_LOGIN:$BOB_PASSWORD")
propfind=(-X PROPFIND -H 'Depth: 0' -H 'Content-Type: application/xml'
    --data-binary '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>')

jwt() {	# USER: an unsigned JWT whose email claim names USER
	echo "eyJhbGciOiJub25lIn0.$(printf '{"email":"%s"}' "$1" |
	    base64 -w0 | tr '+/' '-_' | tr -d '=').c2ln"
}
jmap() {	# PORT-URL METHOD-CALLS: a JMAP API call as alice
	"${C[@]}" "${A[@]}" -H 'Content-Type: application/json' --data \
	    "{\"using\":[\"urn:ietf:params:jmap:core\",\"urn:ietf:params:jmap:mail\"],\"methodCalls\":$2}" \
	    "$1/jmap/"
}

cat >"$work/proxy.yaml" <<EOF
default_domain: example.org
mapping: $work/mapping.db
control: $work/proxy.sock
tls:
  certificate: $WORLD_DIR/tls/server.pem
  key: $WORLD_DIR/tls/server.key
listeners:
  - { protocol: http, listen: 127.0.0.1:$HTTP }
  - { protocol: http, listen: 127.0.0.1:$HTTPS, tls: implicit }
backends:
  source:
    http: { address: 127.0.0.1:$DAV_PORT, allow_plaintext: true }
  destination:
    http: { address: 127.0.0.1:$DST_HTTP_PORT, allow_plaintext: true }
EOF

# --- the configuration --------------------------------------------------
like "$("$P" -t -c "$work/proxy.yaml" 2>&1)" "good, 2 listeners" \
    "-t: HTTP listeners and backends are a good configuration"
sed 's/tls: implicit/tls: starttls/' "$work/proxy.yaml" >"$work/bad.yaml"
like "$("$P" -t -c "$work/bad.yaml" 2>&1)" \
    "bad.yaml:9:5: listeners\[2\]: http has no STARTTLS" \
    "-t: HTTP with STARTTLS is refused, with its line"
sed "s/^    http: { address: 127.0.0.1:$DAV_PORT/    imap: { address: 127.0.0.1:$DAV_PORT/" \
    "$work/proxy.yaml" >"$work/bad.yaml"
like "$("$P" -t -c "$work/bad.yaml" 2>&1)" \
    "listeners\[1\]: http needs backends.source and destination.http" \
    "-t: an HTTP listener needs both HTTP backends"

start_proxy "$work/proxy.yaml" "$work/proxy.log" $HTTPS ||
    not_ok "the proxy starts"

# --- unmapped: the source, on both schemes ------------------------------
for url in "http://127.0.0.1:$HTTP" "https://localhost:$HTTPS"; do
	out=$("${C[@]}" -i "${B[@]}" "${propfind[@]}" "$url/$BOB_DEST_LOGIN/")
	like "$(flat "$out")" "^HTTP/1.1 207 .*Server: WSGIServer.*<multistatus" \
	    "PROPFIND of an unmapped account reaches Radicale (${url%%:*})"
done
out=$("${C[@]}" -i "${propfind[@]}" "http://127.0.0.1:$HTTP/")
like "$(flat "$out")" "^HTTP/1.1 401 .*Server: WSGIServer.*WWW-Authenticate: Basic" \
    "no Authorization: the source asks for credentials"
out=$("${C[@]}" -i --user "$BOB_DEST_LOGIN:wrong" "${propfind[@]}" \
    "http://127.0.0.1:$HTTP/$BOB_DEST_LOGIN/")
like "$(flat "$out")" "^HTTP/1.1 401 .*Server: WSGIServer" \
    "a wrong password: the source's 401 is relayed"

# --- flipped: the destination, both login forms, JMAP -------------------
"$FLIP" --store "$work/mapping.db" --domain example.org \
    --control "$work/proxy.sock" alice destination >/dev/null 2>&1
for url in "http://127.0.0.1:$HTTP" "https://localhost:$HTTPS"; do
	out=$("${C[@]}" -L -w '\n%{url_effective}' "${A[@]}" \
	    "$url/.well-known/jmap")
	like "$(flat "$out")" '"username":"alice@example.org".* '"$url"'/jmap/? *$' \
	    "a flipped account's JMAP session comes from Cyrus, the bare name made an address (${url%%:*}; the redirect keeps the scheme)"
	out=$(jmap "$url" '[["Mailbox/get",{"accountId":"alice@example.org","properties":["role"]},"0"]]')
	like "$out" '"role":"inbox"' "a JMAP call through the proxy (${url%%:*})"
done
out=$("${C[@]}" -i --user "alice@example.org:$ALICE_PASSWORD" "${propfind[@]}" \
    "http://127.0.0.1:$HTTP/dav/calendars/user/alice@example.org/")
like "$(flat "$out")" "^HTTP/1.1 207 " "a PROPFIND at the destination (Cyrus DAV)"
is "$(printf '%s' "$out" | grep -ci '^Server: WSGIServer')" 0 \
    "and Radicale did not answer it"
is "$("${C[@]}" -sI "${A[@]}" "http://127.0.0.1:$HTTP/.well-known/jmap" |
    grep -ci '^Alt-Svc')" 0 "Alt-Svc (the backend's own ports) is dropped"
out=$("${C[@]}" -i --user "alice:wrong" "http://127.0.0.1:$HTTP/jmap/")
like "$out" "^HTTP/1.1 401" "a wrong password: the destination's 401 is relayed"

# two accounts on one connection, each to its server
out=$("${C[@]}" -v "${B[@]}" "${propfind[@]}" -o /dev/null \
    -w '%{http_code}\n' "http://127.0.0.1:$HTTP/$BOB_DEST_LOGIN/" --next \
    --max-time 30 "${A[@]}" -o /dev/null -w '%{http_code}\n' \
    "http://127.0.0.1:$HTTP/jmap/" -X POST -H 'Content-Type: application/json' \
    --data '{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"0"]]}' 2>&1)
like "$(flat "$out")" "Re-using existing connection.* 207 200 $" \
    "one connection: bob's request to the source, alice's to the destination"

# a 5 MB upload sent chunked, and its download, byte for byte
head -c 5000000 /dev/urandom >"$work/blob"
up=$("${C[@]}" "${A[@]}" -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" \
    "http://127.0.0.1:$HTTP/jmap/upload/alice@example.org/")
like "$up" '"size":5000000' "a chunked 5 MB upload arrives whole"
blob=$(printf '%s' "$up" | jq -r .blobId)
"${C[@]}" "${A[@]}" -o "$work/blob.back" \
    "https://localhost:$HTTPS/jmap/download/alice@example.org/$blob/b?accept=application/octet-stream"
cmp -s "$work/blob" "$work/blob.back" && ok "and comes back byte for byte" ||
    not_ok "and comes back byte for byte"

# --- Bearer: routed by the JWT's user claim -----------------------------
out=$("${C[@]}" -i -H "Authorization: Bearer $(jwt alice@example.org)" \
    "http://127.0.0.1:$HTTP/.well-known/jmap")
is "$(printf '%s' "$out" | grep -ci '^Server: WSGIServer')" 0 \
    "a Bearer token naming alice goes to the destination"
out=$("${C[@]}" -i -H "Authorization: Bearer $(jwt bob@example.org)" \
    "http://127.0.0.1:$HTTP/.well-known/jmap")
like "$out" "Server: WSGIServer" "one naming bob to the source"

# --- hostile input and failures -----------------------------------------
raw() {	# PORT: send stdin raw, print the first line back
	python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.stdin.buffer.read())
print(s.makefile("rb").readline().decode().strip())' "$1"
}
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n' \
    "$(printf 'a b:c' | base64)" | raw $HTTP)
like "$out" "^HTTP/1.1 400" "an identity with a blank: 400 from the proxy"
out=$(printf 'GARBAGE\x01 / HTTP/1.1\r\n\r\n' | raw $HTTP)
like "$out" "^HTTP/1.1 400" "a malformed request: 400"
out=$(python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nX-Big: " + "a" * 100000 + "\r\n\r\n")' |
    raw $HTTP)
like "$out" "^HTTP/1.1 431" "a 100 kB header: 431"
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n' |
    raw $HTTP)
like "$out" "^HTTP/1.1 501" "an upgrade is refused, 501"
like "$("${C[@]}" -o /dev/null -w '%{http_code}' "${B[@]}" "${propfind[@]}" \
    "http://127.0.0.1:$HTTP/$BOB_DEST_LOGIN/")" 207 "and the proxy serves on"

cat >"$work/down.yaml" <<EOF
mapping: $work/mapping.db
limits: { connect_retries: 1 }
listeners:
  - { protocol: http, listen: 127.0.0.1:$HTTP2 }
backends:
  source:
    http: { address: 127.0.0.1:$DAV_PORT, allow_plaintext: true }
  destination:
    http: { address: 127.0.0.1:$DEAD, allow_plaintext: true }
EOF
start_proxy "$work/down.yaml" "$work/down.log" $HTTP2
out=$("${C[@]}" -i "${A[@]}" "http://127.0.0.1:$HTTP2/.well-known/jmap")
like "$(flat "$out")" "^HTTP/1.1 503 .*Retry-After: 5" \
    "the destination down: 503 with Retry-After, not 401"

# --- Forwarded, hop-by-hop headers, a body that runs to the close --------
python3 - $ECHO <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"	# no length: the body ends at the close
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(("%s\n%s" % (self.requestline, self.headers)).encode())
        self.wfile.write(b"x" * 200000 + b"\nend\n")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
pids="$pids $!"
cat >"$work/echo.yaml" <<EOF
mapping: $work/mapping.db
listeners:
  - { protocol: http, listen: 127.0.0.1:$HTTP3 }
backends:
  source:
    http: { address: 127.0.0.1:$ECHO, allow_plaintext: true,
            client_address: native }
  destination:
    http: { address: 127.0.0.1:$DST_HTTP_PORT, allow_plaintext: true }
EOF
wait_port $ECHO
start_proxy "$work/echo.yaml" "$work/echo.log" $HTTP3
out=$("${C[@]}" -i -H 'Connection: X-Secret' -H 'X-Secret: 1' -H 'Keep-Alive: 5' \
    -H 'Forwarded: for=6.6.6.6' -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Real-IP: 6.6.6.6' \
    "${B[@]}" "http://127.0.0.1:$HTTP3/echo" --next "${B[@]}" \
    "http://127.0.0.1:$HTTP3/again")
like "$out" "^Forwarded: for=127.0.0.1;proto=http" \
    "the backend is told the client's address (Forwarded)"
like "$out" "^X-Forwarded-For: 127.0.0.1" "and X-Forwarded-For"
is "$(printf '%s' "$out" | grep -c '6\.6\.6\.6')" 0 \
    "what the client said of its address does not reach the backend"
is "$(printf '%s' "$out" | grep -ci '^Keep-Alive: 5')" 0 \
    "hop-by-hop headers stay on the client's leg"
like "$(flat "$out")" "Transfer-Encoding: chunked.*GET /echo HTTP/1.1.* x*x end .*GET /again HTTP/1.1.*end" \
    "a body without a length reaches an HTTP/1.1 client chunked, and the connection goes on"

# --- a kick closes a long request; a flip back goes to the source --------
# (an upload at 200 kB/s: 25 s unless the proxy closes it)
"${C[@]}" --max-time 40 "${A[@]}" --limit-rate 200k -o /dev/null \
    -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" \
    "http://127.0.0.1:$HTTP/jmap/upload/alice@example.org/" 2>/dev/null &
up=$!
sleep 1
t0=$(date +%s)
"$FLIP" --store "$work/mapping.db" --domain example.org \
    --control "$work/proxy.sock" alice source >/dev/null 2>&1
wait $up
[ $(($(date +%s) - t0)) -lt 10 ] &&
    grep -q 'user=alice backend=destination .*result=kicked' "$work/proxy.log" &&
    ok "the flip back closes alice's upload in flight (kick)" ||
    not_ok "the flip back closes alice's upload in flight (kick)"
out=$("${C[@]}" -i --user "$ALICE_DEST_LOGIN:$ALICE_PASSWORD" \
    "${propfind[@]}" "http://127.0.0.1:$HTTP/$ALICE_DEST_LOGIN/")
like "$(flat "$out")" "^HTTP/1.1 207 .*Server: WSGIServer" \
    "and her next request reaches the source again"

# --- stats, logs, secrets -----------------------------------------------
like "$(control "$work/proxy.sock" stats)" \
    "protocol http connections [1-9][0-9]* active [0-9]+ logins [1-9][0-9]* login_failures [1-9]" \
    "stats count HTTP requests with credentials and their failures"
leaked=
for s in "$ALICE_PASSWORD" "$BOB_PASSWORD" \
    "$(printf '%s' "alice:$ALICE_PASSWORD" | base64 -w0)"; do
	grep -qF -- "$s" "$work/proxy.log" "$work/echo.log" "$work/down.log" &&
	    leaked=1
done
is "${leaked:-none}" none "no password or Authorization in the logs"
like "$(grep -a 'http 127.0.0.1:.* user=alice backend=destination' "$work/proxy.log" | head -1)" \
    "in=[0-9]+ out=[0-9]+ duration=.* result=" "one log line per connection"

done_testing
