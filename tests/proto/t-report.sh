# migrate report: the state as one HTML page that stands alone, made
# from a plan run by stand-in helpers (stub-helper), checked with tidy
# and opened in headless Chromium, whose DOM must show the state's
# figures; a screenshot is kept in $O/test-logs/report.png.  Then
# migrate serve: the same page live, in clear on loopback, and with TLS
# and a password.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
spid=
trap '[ -n "$spid" ] && kill "$spid"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$top/$O/test-logs"
stub_helpers imap-pull jmap-push
# a plan whose name and a wave's must be escaped; dave fails for good
{
	plan_head rep | sed 's/^name: rep/name: report <test> \& co/'
	cat <<'EOT'
limits:
  parallel_accounts: 2
  retries: 0
  backoff_seconds: 0
  max_failures: 1
accounts:
  default_domain: example.org
  list: [alice, bob, carol, dave]
phases:
  assessment:
  pilot: {accounts: [alice]}
  waves:
    - {name: "w<1>&", accounts: [bob, carol]}
    - {name: last, accounts: [dave]}
EOT
} >"$work/rep.yaml"
stub_assessed alice 10 400000
stub_assessed bob 200 25000000
printf 'report:{"totals": {"folders": 2, "messages": 3000, "bytes": 2500000000}, "folders": [{"name": "INBOX", "messages": 2000, "bytes": 2000000000, "oldest": 0}, {"name": "Archive/<2019>", "messages": 1000, "bytes": 500000000, "oldest": 0}]}\n' \
    >"$STUB_DIR/imap-pull.carol@example.org"
stub_assessed dave 7 1000
echo exit:77 >"$STUB_DIR/jmap-push.dave@example.org"
(cd "$work" && GIT_AUTHOR_NAME="Bo & Ops" GIT_AUTHOR_EMAIL=bo@example.org \
    "$M" plan apply rep.yaml) >"$work/out" 2>&1
is "$?" 75 "the plan runs, dave fails"
state_sql "$work/rep" "INSERT INTO anomalies(account_id, helper,
    kind, event) SELECT id, 'imap-pull', 'folder-name', '{}' FROM accounts
    WHERE account IN ('bob@example.org', 'carol@example.org');
    INSERT INTO anomalies(account_id, helper, kind, event) SELECT id,
    'imap-pull', 'odd<kind>', '{}' FROM accounts WHERE account =
    'carol@example.org';
    INSERT INTO findings(account_id, kind, n) SELECT id, 'pop3-logins', 12
    FROM accounts WHERE account = 'dave@example.org';
    INSERT INTO findings(account_id, kind, n) SELECT id, 'oldest-mail',
    915192000 + 86400 * CASE WHEN account = 'carol@example.org' THEN 1
    ELSE 0 END FROM accounts
    WHERE account IN ('bob@example.org', 'carol@example.org')"

out=$("$M" --state "$work/rep" report)
is "$?:$out" "0:$work/rep/report.html" "report writes STATE/report.html"
page=$work/rep/report.html
"$M" --state "$work/rep" report -o "$work/other.html" >/dev/null
unmade() { sed 's/, made [^;]*;//' "$1" | sha256sum; }
is "$(unmade "$work/other.html")" "$(unmade "$page")" "or where -o says"
"$M" --state "$work/rep" report -o "$work/nodir/x.html" 2>"$work/err"
is "$?" 73 "a place it cannot write: exit 73"
like "$(cat "$work/err")" "^migrate: report: .*nodir" "and it says where"

tidy -q -e "$page" >"$work/tidy" 2>&1
is "$?" 0 "tidy finds no error and no warning"
is "$(grep -cE '<script|src=|href=|url\(|@import' "$page")" 0 \
    "nothing outside the page: no script, no link, no fetch"
unlike "$(cat "$page")" '<test>|w<1>|odd<kind>' "every name is escaped"
is "$(grep -o '<table id="largest-folders">.*</table>' "$page" | grep -o '<tr><td>[^<]*</td><td>[^<]*</td><td class="n">[0-9]*</td><td class="n">[^<]*</td>' | sed 's/<[^>]*>/|/g; s/||*/|/g' | tr '\n' ' ')" \
    "|carol@example.org|INBOX|2000|2.0 GB| |carol@example.org|Archive/&lt;2019&gt;|1000|500.0 MB| " \
    "the largest folders, from the largest accounts' assessment reports"
like "$(grep -o '<table id="waves">.*</table>' "$page")" '<tr><td>w&lt;1&gt;&amp;</td><td class="n">2</td><td class="n">2</td>' \
    "the folders each wave holds, as the assessment counted them"
risk() { grep -o "<tr><td>$1[^<]*</td><td class=\"n\">[0-9]*</td><td class=\"n\">[0-9]*</td><td>[^<]*</td><td>[^<]*" "$page" | sed 's/<[^>]*>/|/g; s/||*/|/g'; }
like "$(risk 'Folder names')" '\|2\|2\|The folder is carried.*\|bob@example.org carol@example.org$' \
    "risks: folder names, two accounts, named"
like "$(risk 'POP3 users')" '\|1\|12\|.*\|dave@example.org$' \
    "risks: a POP3 user found in the logs, with their logins"
like "$(risk 'Password hashes')" '\|0\|0\|' "risks: what was not found, with 0"
like "$(risk 'Shared folders')" '\|0\|0\|' \
    "the assessment's other findings (folders, oldest mail) are no risk"
like "$(cat "$page")" '<b data-k="oldest">1999-01-0[12]</b>oldest mail \(bob@example.org\)' \
    "the oldest mail, and whose"
like "$(cat "$page")" '<title>accounts by state over time</title><rect class="s0".*<title>[0-9:]* migrated: 3</title>' \
    "the accounts by state over time, stacked: at the end, three migrated"
like "$(cat "$page")" '<p class="key"><span class="s0">&nbsp;</span>waiting<span class="s1">&nbsp;</span>in progress' \
    "with a key"
like "$(cat "$page")" "<table id=\"sources\"><tr>.*<td>imap-pull</td><td class=\"n\">$(state_sql "$work/rep" "SELECT count(*) FROM runs WHERE step = 'pull' AND exit = 0")</td>" \
    "the throughput by source: imap-pull's pulls"
is "$(grep -o '<h3>[A-Za-z ]* pulled a minute</h3><svg' "$page" | tr -d '\n')" \
    '<h3>Bytes pulled a minute</h3><svg<h3>Messages pulled a minute</h3><svg' \
    "bytes and messages pulled a minute"

# --- an account's page: its reconciliation folder by folder -------------
cat >"$work/rep/reports/alice@example.org.verify.json" <<'EOT'
{"delta": false, "bodies_compared": 9, "folders": [
 {"folder": "INBOX", "source_messages": 7, "source_bytes": 300000,
  "left_out": 1, "destination_messages": 6, "destination_bytes": 290000,
  "checked": 6, "equal": 6, "differs": 0, "rescued": 0, "not_pushed": 0},
 {"folder": "Caf\u00e9 <b>", "source_messages": 3, "source_bytes": 100000,
  "left_out": 0, "destination_messages": 2, "destination_bytes": 60000,
  "checked": 3, "equal": 2, "differs": 0, "rescued": 0, "not_pushed": 1},
 {"folder": "Empty", "source_messages": 0, "source_bytes": 0,
  "left_out": 0, "destination_messages": 0, "destination_bytes": 0,
  "checked": 0, "equal": 0, "differs": 0, "rescued": 0, "not_pushed": 0}]}
EOT
out=$("$M" --state "$work/rep" report --account alice)
is "$?:$out" "0:$work/rep/reports/alice@example.org.html" \
    "report --account: STATE/reports/ACCOUNT.html, a bare name will do"
apage=$work/rep/reports/alice@example.org.html
tidy -q -e "$apage" >"$work/tidy" 2>&1
is "$?" 0 "the account's page: tidy finds nothing"
rows() { grep -o '<table id="folders">.*</table>' "$1" | grep -o '<tr><td>[^<]*</td>\(<td[^>]*>[^<]*</td>\)*' | sed 's/<[^>]*>/|/g; s/||*/|/g'; }
is "$(rows "$apage" | tr '\n' ' ')" \
    "|INBOX|7|300.0 kB|1|6|290.0 kB|6|0|0|0|yes| |Café &lt;b&gt;|3|100.0 kB|0|2|60.0 kB|2|0|0|1|no| |Empty|0|0 B|0|0|0 B|0|0|0|0|yes| |all folders|10|400.0 kB|1|8|350.0 kB|8|0|0|1|no| " \
    "a row per folder, the empty one too, and the total: verified yes or no"
like "$(cat "$apage")" '<table id="transitions">.*<td>pending</td>' \
    "and its history"
"$M" --state "$work/rep" report --account nobody 2>"$work/err"
is "$?" 67 "report --account of an unknown account: exit 67"
like "$(cat "$work/err")" "no account 'nobody'" "and it says so"
bpage=$("$M" --state "$work/rep" report --account bob)
like "$(cat "$bpage")" "Not verified yet" "an account not verified yet says so"

# --- the accounts, a page of 500 at a time -----------------------------
state_copy "$work/rep" "$work/big"
state_sql "$work/big" "WITH RECURSIVE n(i, u) AS (SELECT 1, 'u0001' UNION
    ALL SELECT i + 1, 'u' || CASE WHEN i + 1 < 10 THEN '000' WHEN i + 1
    < 100 THEN '00' WHEN i + 1 < 1000 THEN '0' ELSE '' END || (i + 1) FROM
    n WHERE i < 1200) INSERT INTO accounts(account, login, wave, ord,
    entered) SELECT u || '@example.org', u, 'big', 1000 + i, 0 FROM n"
out=$("$M" --state "$work/big" report --all --page 3)
is "$?:$out" "0:$work/big/reports/accounts-3.html" "report --all --page 3"
is "$(grep -o '<tr><td>u[0-9]*@' "$out" | sed -n '1p;$p' | tr -d '\n')" \
    "<tr><td>u0997@<tr><td>u1200@" "the third page: the last 204, in plan order"
like "$(cat "$out")" "Page 3 of 3" "and it says which page"
"$M" --state "$work/big" report --all --page 4 2>"$work/err"
is "$?" 64 "a page past the last: exit 64"
out=$("$M" --state "$work/big" report --wave last)
like "$(cat "$out")" '<td>dave@example.org</td>.*Page 1 of 1' \
    "report --wave: that wave's accounts"
"$M" --state "$work/big" report --wave nowave 2>"$work/err"
is "$?" 67 "an unknown wave: exit 67"

# --- served ------------------------------------------------------------
serve() {	# PORT [options]: migrate serve in the background, as $spid
	local port=$1
	shift
	"$M" --state "$work/rep" serve --listen "127.0.0.1:$port" "$@" \
	    >"$work/serve.out" 2>&1 &
	spid=$!
	for _ in $(seq 50); do
		grep -q "^migrate serve:" "$work/serve.out" && return
		sleep 0.1
	done
}
stop_serve() { kill "$spid"; wait "$spid" 2>/dev/null; spid=; }
get() { curl -s -o "$work/got" -w '%{http_code} %{content_type}' "$@"; }
serve 28470 --refresh 5
is "$(get http://127.0.0.1:28470/)" "200 text/html; charset=utf-8" \
    "serve: the page at /"
like "$(tr '\n' ' ' <"$work/got")" '<meta http-equiv="refresh" content="5">.*data-k="accounts">4<' \
    "the report's page, reloading itself every --refresh seconds"
is "$(get http://127.0.0.1:28470/status.json)" "200 application/json" \
    "status's JSON at /status.json"
is "$(jq -c .totals "$work/got")" "$("$M" --state "$work/rep" status --json | jq -c .totals)" \
    "the same as migrate status --json"
is "$(get -X POST http://127.0.0.1:28470/)" "405 text/plain" "read-only: POST is refused"
is "$(get http://127.0.0.1:28470/state.db)" "404 text/plain" "nothing else is served"
get http://127.0.0.1:28470/ >/dev/null
like "$(cat "$work/got")" '<a href="/account/carol@example.org">carol@example.org</a>' \
    "served, account names link to their pages"
is "$(get http://127.0.0.1:28470/account/alice@example.org)" \
    "200 text/html; charset=utf-8" "/account/ACCOUNT: its page"
like "$(cat "$work/got")" '<td>all folders</td><td class="n">10</td>' \
    "with its reconciliation"
is "$(get http://127.0.0.1:28470/account/nobody)" "404 text/plain" \
    "an unknown account: 404"
is "$(get 'http://127.0.0.1:28470/accounts/w%3C1%3E%26?page=1')" \
    "200 text/html; charset=utf-8" "/accounts/WAVE: a wave's accounts"
like "$(cat "$work/got")" 'bob@example.org.*carol@example.org' "bob and carol"
is "$(get 'http://127.0.0.1:28470/accounts?page=9')" "404 text/plain" \
    "a page past the last: 404"
stop_serve
"$M" --state "$work/big" serve --listen 127.0.0.1:28474 --refresh 1 \
    >"$work/serve.out" 2>&1 &
spid=$!
sleep 0.5
get http://127.0.0.1:28474/ >/dev/null
is "$(sed -n 's/.*data-k="failed">\([0-9]*\)<.*/\1/p' "$work/got")" 1 "served: one failed"
state_sql "$work/big" "UPDATE accounts SET state = 'failed' WHERE
    account IN ('u0001@example.org', 'u0002@example.org')"
sleep 2.5
get http://127.0.0.1:28474/ >/dev/null
is "$(sed -n 's/.*data-k="failed">\([0-9]*\)<.*/\1/p' "$work/got")" 3 \
    "the page is made again every --refresh seconds: three failed"
is "$(get 'http://127.0.0.1:28474/accounts/big?page=2')" "200 text/html; charset=utf-8" \
    "1,200 accounts: page 2 of a wave"
like "$(cat "$work/got")" 'Page 2 of 3 <a href="/accounts/big\?page=1">1</a> <b>2</b> <a href="/accounts/big\?page=3">3</a>' \
    "with links to the other pages"
is "$(grep -o '<tr><td><a' "$work/got" | wc -l)" 500 "500 accounts a page"
stop_serve
"$M" --state "$work/rep" serve --listen 0.0.0.0:28471 2>"$work/err"
is "$?" 64 "serve beyond loopback without TLS and a password: exit 64"
like "$(cat "$work/err")" "not loopback: it needs --tls-cert, --tls-key and --password-file" \
    "and it says what it needs"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
printf 'dash-pw-Rt4Qz8\n' >"$work/dash.pw"
serve 28472 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
    --password-file "$work/dash.pw"
tls="--cacert $work/cert.pem https://localhost:28472/"
is "$(get $tls)" "401 text/plain" "with a password: none given, 401"
is "$(get -u ann:wrong $tls)" "401 text/plain" "a wrong one, 401"
is "$(get -u ann:dash-pw-Rt4Qz8 $tls)" "200 text/html; charset=utf-8" \
    "the right one over TLS, the page"
is "$(get -u ann:dash-pw-Rt4Qz8 ${tls/https/http})" "000 " "no clear HTTP beside TLS"
unlike "$(ps -o args= -p "$spid")" "dash-pw" "the password is not in argv"
stop_serve
census_is_counted "$work/rep" "the report's state"

if ! command -v chromium >/dev/null; then
	ok "# SKIP no chromium"
	done_testing
	exit
fi
browse() {	# what headless Chromium makes of the page
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$work/chrome" "$@" "file://$page" 2>/dev/null
}
dom=$(browse --dump-dom)
card() { printf '%s\n' "$dom" | sed -n "s/.*data-k=\"$1\">\([^<]*\)<.*/\1/p"; }
db() { state_sql "$work/rep" "$1"; }
is "$(card accounts)" "$(db 'SELECT count(*) FROM accounts')" \
    "in the browser: the account count is the state's"
is "$(card messages)" "$(db 'SELECT sum(assessed_messages) FROM accounts')" \
    "the message total is the state's (3217)"
is "$(card migrated):$(card failed)" "3:1" "migrated and failed"
is "$(card bytes)" "2.5 GB" "the assessed size"
is "$(printf '%s\n' "$dom" | grep -o '<table id="waves">.*</table>' |
    grep -o '<tr><td>[^<]*</td>' | tr -d '\n')" \
    '<tr><td>pilot</td><tr><td>w&lt;1&gt;&amp;</td><tr><td>last</td>' \
    "a sizing row per wave, in plan order, its name as text"
like "$dom" '<td>folder-name</td><td class="n">2</td><td class="n">2</td><td>A folder name' \
    "anomalies by kind, with what to do"
like "$dom" '<td>odd&lt;kind&gt;</td>' "an unknown kind, escaped"
like "$dom" 'permanent</td><td>jmap-push exited 77.*dave@example.org' \
    "the failure, with its reason and account"
is "$(printf '%s\n' "$dom" | grep -o '>cutover</td><td class="n">[0-9.]* s<' | wc -l)" 3 \
    "three cutovers, each with how long logins were held"
is "$(printf '%s\n' "$dom" | grep -o '>cutover</td><td class="n">[0-9.]* s</td><td>[^<]*<' | sed 's/.*<td>//' | sort -u)" \
    'Bo &amp; Ops &lt;bo@example.org&gt;<' "and who applied them"
like "$dom" '<title>1-10 GB: 1 accounts</title>' "the size histogram"
browse --screenshot="$top/$O/test-logs/report.png" --window-size=1200,2600 \
    >/dev/null
like "$(file "$top/$O/test-logs/report.png")" "PNG image data, 1200 x 2600" \
    "a screenshot, in test-logs/report.png"
serve 28473
page=127.0.0.1:28473
browse() {	# the same, served
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$work/chrome" "$@" "http://$page/" 2>/dev/null
}
dom=$(browse --dump-dom)
is "$(card accounts):$(card messages)" "4:3217" "served, in the browser: the same figures"
stop_serve
done_testing
