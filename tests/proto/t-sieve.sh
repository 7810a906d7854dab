# sieve-pull and sieve-push against a scripted fake ManageSieve server:
# names as literals, quotes and UTF-8, an empty script, a reason given as
# a literal, a connection cut inside a literal, a bad literal, a refused
# login, BYE, no SASL PLAIN.  Exit codes per migrate-helper(7); nothing
# half-written left as a segment.
. "$(dirname "$0")/lib.sh"

PULL=$top/$O/bin/sieve-pull
PUSH=$top/$O/bin/sieve-push
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run HELPER SCENARIO ARCHIVE [options...]: sets rc, out, errtext, transcript
run() {
	local helper=$1 scenario=$2 arc=$3
	shift 3
	fake_start fake-sieve "$scenario"
	printf 'password=%s\n\n' "${PW:-secret}" |
	    timeout 60 "$helper" --host 127.0.0.1 --port "$port" --tls none \
	    --allow-plaintext --user alice --archive "$arc" "$@" \
	    >"$work/out" 2>"$work/err"
	fake_done
}
segments() { ls "$1/segments" 2>/dev/null | grep -c 'tar.zst$'; }

run "$PULL" ok "$work/a"
is "$rc" 0 "ok: the scripts are read"
like "$out" '"event":"done".*"scripts":3.*"active":"Café \\"active\\""' \
    "ok: three scripts, the active one named with a quote and UTF-8"
like "$out" '"kind":"sieve-name"' "ok: a name with a line break is an anomaly"
is "$(sqlite3 "$work/a/index.db" "SELECT size FROM sieve_scripts WHERE name = 'empty'")" 0 \
    "ok: the 0-byte script is kept"
is "$(sqlite3 "$work/a/index.db" "SELECT count(*) FROM sieve_scripts WHERE name = 'odd \"one\"' || char(13, 10) || 'name'")" 1 \
    "ok: the name sent as a literal is kept whole"
like "$transcript" 'GETSCRIPT \{15\+\}' "ok: a name with a line break goes back as a literal"
like "$transcript" 'GETSCRIPT "Café \\"active\\""' "ok: a quote in a name is escaped"
unlike "$(cat "$work/transcript")" 'secret' "ok: the password is nowhere in the transcript"
unlike "$out$errtext" 'secret|c2VjcmV0' "ok: nor in the output"

run "$PUSH" ok "$work/a"
is "$rc" 65 "push: a refused script makes 65"
like "$out" '"kind":"sieve-refused".*unknown extension.*vnd\.x' \
    "push: the anomaly carries the reason the server gave as a literal"
like "$transcript" 'PUTSCRIPT "empty" \{0\+\}' "push: the 0-byte script is sent as an empty literal"

run "$PULL" cut-literal "$work/b"
is "$rc" 75 "cut-literal: a connection cut inside a literal is 75 (try again)"
is "$(segments "$work/b")" 0 "cut-literal: and no segment is written"
run "$PULL" bad-literal "$work/b"
is "$rc" 76 "bad-literal: a negative literal length is a protocol error (76)"
like "$errtext" 'bad literal' "bad-literal: and says so"
PW=wrong run "$PULL" bad-password "$work/b"
is "$rc" 77 "bad-password: 77"
like "$errtext" 'NO.*AUTH-TOO-WEAK.*Authentication failed' "bad-password: the server's words"
run "$PULL" bye "$work/b"
is "$rc" 69 "bye: 69"
run "$PULL" no-plain "$work/b"
is "$rc" 69 "no-plain: 69 when SASL PLAIN is not offered"
like "$errtext" 'SCRAM-SHA-1' "no-plain: it names what the server offers"

done_testing
