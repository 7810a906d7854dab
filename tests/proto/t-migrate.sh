# migrate against stand-in helpers (stub-helper) and the real map-flip:
# every plan error class, the state machine through every phase,
# retries, permanent failures, hold and release, rollback, the apply
# lock, kill -9 at random moments, and no secret in the state directory.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$top/tests/proto/stub-helper" "$work/bin/imap-pull"
ln -s "$top/tests/proto/stub-helper" "$work/bin/jmap-pull"
ln -s "$top/tests/proto/stub-helper" "$work/bin/jmap-push"
for h in sieve-pull sieve-push dav-pull dav-push carry-back; do
	ln -s "$top/tests/proto/stub-helper" "$work/bin/$h"
done
ln -s "$top/tests/proto/stub-pop3-uidl" "$work/bin/pop3-uidl"
ln -s "$top/$O/bin/map-flip" "$work/bin/map-flip"
export MIGRATE_EXEC_PATH=$work/bin MIGRATE_NO_PROGRESS=1
export GIT_AUTHOR_NAME="Ann Operator" GIT_AUTHOR_EMAIL=ann@example.org

# test passwords: none of them may ever be found in a state directory
PW_ALICE=alice-pw-Kq7Zr1 PW_BOB=bob-pw-Wm3Tt8 PW_CAROL=carol-pw-Jx5Lp2
PW_MASTER=master-pw-Vb9Nc4
umask 077
printf 'alice@example.org %s\nbob@example.org %s\ncarol %s\n' \
    "$PW_ALICE" "$PW_BOB" "$PW_CAROL" >"$work/passwords"
umask 022

# plan NAME [ACCOUNTS] [PHASES]: write $work/NAME.yaml, state $work/NAME
plan() {
	local name=$1 accounts=${2:-"[alice@example.org, bob, carol]"}
	{ plan_head "$name"; cat; } >"$work/$name.yaml" <<EOT
limits:
  parallel_accounts: 2
  retries: 2
  backoff_seconds: 0
accounts:
  default_domain: example.org
  list: $accounts
phases:
${3:-"  assessment:
  pilot: {accounts: [alice]}
  waves:
    - {name: wave-1, batch: 1}
    - {name: wave-2}
  delta: {passes: 1}
  finalize:"}
EOT
}
fresh() {	# a new stub control directory
	export STUB_DIR=$work/ctl.$1
	rm -rf "$STUB_DIR"
	mkdir -p "$STUB_DIR"
}
apply() {	# NAME: run the plan; sets rc, errtext
	(cd "$work" && "$M" plan apply "$1.yaml") >"$work/out" 2>"$work/err"
	rc=$?
	errtext=$(cat "$work/err")
}
st() {	# NAME ACCOUNT: the account's state
	"$M" --state "$work/$1" status --json "$2" | jq -r .state
}
totals() {	# NAME: "state=count ..." of every account
	"$M" --state "$work/$1" status --json |
	    jq -r '.totals | to_entries | map("\(.key)=\(.value)") | join(" ")'
}
flips() {	# NAME ACCOUNT ROUTE: commits in the audit history that flip it
	git -C "$work/$1/audit" log --format=%B 2>/dev/null |
	    grep -c "^flip $2 -> $3"
}
validate() {	# TEXT: a plan file with TEXT; sets rc, errtext
	# (without plan_database's line: the lines the errors name stay put)
	printf '%s\n' "$1" | sed '/^database: /d' >"$work/bad.yaml"
	(cd "$work" && "$M" plan validate bad.yaml) >/dev/null 2>"$work/err"
	rc=$?
	errtext=$(cat "$work/err")
}

# --- plan errors: each names file:line:column ---------------------------
plan good
base=$(cat "$work/good.yaml")
(cd "$work" && "$M" plan validate good.yaml) >"$work/out" 2>&1
is "$?" 0 "a good plan validates"
like "$(cat "$work/out")" 'valid: 3 accounts; phases: assessment pilot \(1\) wave-1 wave-2 delta \(1\) finalize' \
    "validate says what it found"

validate "$(printf '%s\n' "$base" | sed 's/  parallel_accounts: 2/  paralel_accounts: 2/')"
is "$rc" 65 "unknown key: exit 65"
like "$errtext" "^bad.yaml:11:3: unknown key 'paralel_accounts' in limits \(did you mean 'parallel_accounts'\?\)" \
    "unknown key: file:line:column and a did-you-mean"
validate "$(printf '%s\n' "$base" | sed 's/  retries: 2/  retries: many/')"
like "$errtext" "^bad.yaml:12:12: limits.retries: expected an integer, found 'many'" \
    "a wrong type names what was expected"
validate "$(printf '%s\n' "$base" | sed 's/  retries: 2/  retries: -1/')"
like "$errtext" "bad.yaml:12:12: limits.retries: expected at least 0, found -1" \
    "a number out of range"
validate "$(printf '%s\n' "$base" | sed 's/passwords: {file: passwords}/passwords: hunter2/')"
is "$rc" 65 "an inline password is refused"
like "$errtext" "^bad.yaml:6:16: source.auth.passwords: an inline secret is refused" \
    "an inline secret: the audit repository is named as the reason"
validate "$(printf '%s\n' "$base" | sed 's/passwords: {file: passwords}/passwords: {file: nowhere}/')"
like "$errtext" "bad.yaml:6:23: source.auth.passwords: cannot read '.*/nowhere'" \
    "a secret file that cannot be read"
validate "$(printf '%s\n' "$base" | sed 's|imaps://127.0.0.1:1|pop3://127.0.0.1|')"
like "$errtext" "bad.yaml:4:9: source.imap: expected a URL \(imap imaps\), found 'pop3://127.0.0.1'" \
    "a URL of the wrong scheme"
validate "$(printf '%s\n' "$base" | sed 's|^  imap: imaps://127.0.0.1:1|&\n  files: https://files.example.org/{local}/|')"
like "$errtext" "source.files and destination.files go together" \
    "a file tree read with nowhere to write it"
validate "$(printf '%s\n' "$base" | sed 's|^  imap: imaps://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1|')"
like "$errtext" "source.sieve and destination.sieve go together" \
    "Sieve read with nowhere to write it"
validate "$(printf '%s\n' "$base" | sed '/^state:/d')"
like "$errtext" "bad.yaml:1:1: the plan needs 'state'" "a missing key"
validate "$(printf '%s\n' "$base" | sed 's/{name: wave-2}/{name: wave-1}/')"
like "$errtext" "bad.yaml:22:7: phases.waves\[2\]: a second wave named 'wave-1'" \
    "two waves of one name"
validate "$(printf '%s\n' "$base" | sed 's/{name: wave-2}/{name: wave-2, accounts: [dave]}/')"
like "$errtext" "bad.yaml:22:33: wave-2: 'dave' is not one of the plan's accounts" \
    "a wave that names an unknown account"
validate "$(printf '%s\n' "$base" | sed '/  default_domain: example.org/d')"
like "$errtext" "bare name and the plan has no accounts.default_domain" \
    "a bare name without a default domain"
validate "$(printf '%s\n' "$base" | sed 's/^limits:/limits: [/')"
like "$errtext" "^bad.yaml:[0-9]+:[0-9]+: .*(flow|expected)" "broken YAML: where the parser stopped"
validate "$(printf '%s\n' "$base" | sed 's|imaps://127.0.0.1:1|imaps://admin:hunter2@127.0.0.1:1|')"
is "$rc" 65 "a URL with a password in it is refused"
like "$errtext" "^bad.yaml:4:9: source.imap: a URL with a user or password in it is refused" \
    "with its line and column"
unlike "$errtext" hunter2 "and the password is not repeated"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|mapping: postgresql://migrate:hunter2@db/migrate\nlimits:|')"
is "$rc" 65 "a shared mapping's URL with a password in it is refused"
like "$errtext" "^bad.yaml:[0-9]+:10: mapping: a URL with a password in it is refused.*PGPASSFILE" \
    "with its line, and where the password goes"
unlike "$errtext" hunter2 "and the password is not repeated"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|mapping: postgresql://migrate@db/migrate?sslmode=verify-full\nlimits:|')"
is "$rc" 0 "a shared mapping's URL without one is a good plan"
validate "$(printf '%s\n' "$base" | sed '/^  allow_plaintext: true/d')"
like "$errtext" "^bad.yaml:8:9: destination.jmap: http:// would send its credential in clear; use https://, or say destination.allow_plaintext: true" \
    "a password over http:// without allow_plaintext"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|hooks:\n  after_cutover: "curl -u ops:hunter2 https://cmdb/flip"\nlimits:|')"
like "$errtext" "^bad.yaml:11:18: hooks.after_cutover: a -u USER:PASSWORD written in" \
    "a hook with a password in it"
unlike "$errtext" hunter2 "and the password is not repeated"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|hooks:\n  before_push: "notify --token=abc123 started"\nlimits:|')"
like "$errtext" "hooks.before_push: a password, token or key written in" "a hook with a token in it"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|hooks:\n  before_push: "notify --token=\$TOKEN started"\nlimits:|')"
is "$rc" 0 "a hook that takes its token from the environment is fine"
validate "$(printf '%s\n' "$base" | sed 's|passwords: {file: passwords}|passwords: {command: "echo hunter2"}|')"
like "$errtext" "^bad.yaml:6:26: source.auth.passwords: the command holds the secret itself" \
    "a secret command that only echoes it"
python3 -c "print('name: deep\nstate: deep\nlimits: ' + '[' * 100000 + ']' * 100000)" >"$work/deep.yaml"
(cd "$work" && "$M" plan validate deep.yaml) >/dev/null 2>"$work/err"
is "$?" 65 "a plan nested 100,000 deep is refused"
like "$(cat "$work/err")" "^deep.yaml:3:72: nested deeper than 64 levels" \
    "at the first level too deep, before the YAML loader sees it"
validate "$(printf '%s\n' "$base" | sed 's/  retries: 2/  retries: 2\n  retries: 3/')"
like "$errtext" "bad.yaml:13:3: key 'retries' given twice in limits" "a key given twice"
validate "$(printf '%s\n' "$base" | sed 's/  retries: 2/  retries: 2\n  secret: hunter2/; s/parallel_accounts: 2/parallel_accounts: 0/')"
is "$(printf '%s\n' "$errtext" | wc -l)" 2 "every error at once"
validate "$(printf '%s\n' "$base" | sed 's/  retries: 2/  retries: 2\n  max_failures: lots/')"
like "$errtext" "bad.yaml:13:17: limits.max_failures: expected a count of accounts \(0 or more\) or a share of a phase's accounts such as 10%" \
    "max_failures: a count or a share"
validate "$(printf '%s\n' "$base" | sed 's/  retries: 2/  retries: 2\n  max_failures: 120%/')"
like "$errtext" "limits.max_failures: expected" "a share over 100%"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|proxy: {contrl: /run/p.sock}\nlimits:|')"
like "$errtext" "bad.yaml:10:9: unknown key 'contrl' in proxy \(did you mean 'control'\?\)" \
    "a misspelt proxy key"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|push: {deleted: keep}\nlimits:|')"
like "$errtext" "push.deleted: skip \(the default" "push.deleted: skip or trash"
validate "$(printf '%s\n' "$base" | sed 's|^limits:|push: {refused: drop}\nlimits:|')"
like "$errtext" "push.refused: rescue \(the default" "push.refused: rescue or report"
(cd "$work" && "$M" plan validate good.yaml) >"$work/out" 2>&1
like "$(cat "$work/out")" "warning: no proxy" "validate says when no proxy is configured"
printf '%s\n' "$base" | sed 's|^limits:|proxy: {control: /run/p.sock, hold_seconds: 20}\nlimits:|' \
    >"$work/proxied.yaml"
(cd "$work" && "$M" plan validate proxied.yaml) >"$work/out" 2>&1
like "$(cat "$work/out")" "cutover through migrate-proxy at /run/p.sock: logins held up to 20 s" \
    "and where the proxy is when it is"
unlike "$errtext" hunter2 "an unknown key's value is not echoed"

# --- account sources and secret references ------------------------------
printf 'account,login\n"dave@example.org",dave\nerin\n' >"$work/accounts.csv"
printf 'frank@example.org:{SHA512-CRYPT}$6$x:1000:1000::/home/frank::\n# a comment\ngrace:{PLAIN}x::::::\n' \
    >"$work/users.passwd"
printf '#!/bin/sh\necho "pw-of-$MIGRATE_ACCOUNT"\n' >"$work/pw-of"
chmod +x "$work/pw-of"
cat >"$work/sources.yaml" <<EOT
state: sources
source:
  imap: imaps://127.0.0.1:1
  auth:
    master_user: admin
    master_password: {env: T_MASTER}
destination:
  jmap: http://127.0.0.1:1
  allow_plaintext: true
  auth:
    passwords: {command: "$work/pw-of"}
limits: {backoff_seconds: 0}
accounts:
  default_domain: example.org
  list: [alice@example.org, Dave@Example.org]
  csv: accounts.csv
  passwd_file: users.passwd
  command: "printf 'heidi@example.org extra words\\n\\nivan\\n'"
phases:
  pilot: {accounts: [erin, grace]}
hooks:
  before_push: "echo \$MIGRATE_HOOK \$MIGRATE_ACCOUNT >>hooks.log; [ \$MIGRATE_ACCOUNT != grace@example.org ] || [ -e grace.ok ]"
EOT
(cd "$work" && "$M" plan validate sources.yaml) >"$work/out" 2>&1
like "$(cat "$work/out")" 'valid: 7 accounts' \
    "accounts from a list, a CSV, a Dovecot passwd-file and a command, each address once"
fresh sources
(cd "$work" && T_MASTER=$PW_MASTER "$M" plan apply sources.yaml) >"$work/out" 2>&1
is "$?" 75 "the pilot: one hook fails, the phase ends with a failure"
is "$(cat "$STUB_DIR/got.imap-pull.erin@example.org")" "$PW_MASTER" \
    "a master password from the environment reaches imap-pull"
is "$(grep -c '^MIGRATE_ACCOUNT$' "$STUB_DIR/env.imap-pull.erin@example.org")" 1 \
    "(the helpers' environments are seen)"
is "$(cat "$STUB_DIR"/env.* | grep -c '^T_MASTER$')" 0 \
    "on its standard input only: no helper's environment holds T_MASTER"
like "$(grep 'imap-pull	erin@example.org' "$STUB_DIR/calls")" '--auth-user admin --user erin' \
    "which logs in as the master user for erin"
is "$(cat "$STUB_DIR/got.jmap-push.erin@example.org")" "pw-of-erin@example.org" \
    "a password from a command, run for each account, reaches jmap-push"
is "$(sort -u "$work/hooks.log" | tr '\n' ' ')" \
    "before_push erin@example.org before_push grace@example.org " \
    "the before_push hook ran with the account in its environment"
is "$("$M" --state "$work/sources" status --json grace | jq -r '.state + " " + .error_class + ": " + .error')" \
    "failed retryable: hook before_push failed (exit 1)" "a failing hook: a retryable failure of the account"
touch "$work/grace.ok"
(cd "$work" && T_MASTER=$PW_MASTER "$M" plan apply sources.yaml) >"$work/out" 2>&1
is "$("$M" --state "$work/sources" status --json grace | jq -r .state)" migrated \
    "once the hook succeeds, the account goes on"
is "$(grep -c 'before_push erin' "$work/hooks.log")" 1 "and the hook of an account that passed it is not run again"
printf 'dave@example.org\nbad name\n' >"$work/accounts.csv"
(cd "$work" && "$M" plan validate sources.yaml) >"$work/out" 2>&1
like "$(cat "$work/out")" "accounts.csv:2: 'bad name' is not an account name" \
    "a bad line of an account source names its file and line"
printf 'dave@example.org\nd\351sir\351e@example.org\neve@example.org,\377\n' \
    >"$work/accounts.csv"
(cd "$work" && "$M" plan validate sources.yaml) >"$work/out" 2>&1
is "$?:$(grep -c 'not UTF-8' "$work/out")" 65:2 \
    "an account or a login not in UTF-8 is refused (65), with each line"
like "$(cat "$work/out")" "accounts.csv:3: the account or its login is not UTF-8" \
    "naming its file and line"

(cd "$work" && "$M" plan validate nowhere.yaml) >"$work/out" 2>&1
is "$?" 66 "a plan that cannot be read: exit 66"
is "$(cat "$work/out")" "cannot open 'nowhere.yaml': No such file or directory" "and says why, on one line"

# --- a whole apply ---------------------------------------------------------
fresh good
apply good
is "$rc" 0 "apply: every phase done"
is "$(totals good)" "finalized=3" "every account finalized"
like "$errtext" "phase pilot: 1 done.*" "the log says each phase"
is "$(cut -f1,2 "$STUB_DIR/calls" | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')" \
    "5 5 5 5 5 5 " "each account: assess, pull, final pull, pull after the flip, delta pull; push, verify, final push, push after the flip, delta push"
is "$(cat "$STUB_DIR/got.imap-pull.carol@example.org")" "$PW_CAROL" \
    "carol's password reached imap-pull on stdin (found under her bare login)"
is "$(cat "$STUB_DIR/got.jmap-push.alice@example.org")" "$PW_ALICE" \
    "and jmap-push"
unlike "$(cat "$STUB_DIR/calls")" "$PW_ALICE|$PW_BOB|$PW_CAROL" "no password in any argv"
is "$(grep '^imap-pull	alice@example.org' "$STUB_DIR/calls" | cut -f5 | tr '\n' ' ')" \
    " seg:1 seg:1 seg:1 seg:1 " "a helper gets its last checkpoint back (MIGRATE_CHECKPOINT)"
is "$("$M" --state "$work/good" status --json alice | jq -r .checkpoint)" "jmap-push:seg:1" \
    "status shows the last checkpoint"
like "$(grep 'imap-pull	carol@example.org' "$STUB_DIR/calls" | head -1)" '--user carol --mode assess' \
    "carol is read with the login the plan gives"
is "$("$top/$O/bin/map-flip" --store "$work/good/mapping.db" --list | tr '\n' ' ')" \
    "# default destination alice destination alice@example.org destination bob destination bob@example.org destination carol destination carol@example.org destination " \
    "the mapping routes both login forms of everyone to the destination, and after finalize every other identifier too"
git -C "$work/good/audit" fsck --strict >/dev/null 2>&1
is "$?" 0 "the audit repository is a valid git repository"
is "$(flips good alice@example.org destination)$(flips good bob@example.org destination)$(flips good carol@example.org destination)" \
    111 "its history has each flip exactly once"
like "$(git -C "$work/good/audit" log --format='%an <%ae>' | sort -u)" '^Ann Operator <ann@example.org>$' \
    "commits are the operator's"
is "$(state_sql "$work/good" "SELECT DISTINCT operator FROM transitions")" \
    "Ann Operator <ann@example.org>" "so is every transition in the state"
is "$(git -C "$work/good/audit" show HEAD:plan.yaml | sha256sum)" "$(sha256sum <"$work/good.yaml")" \
    "the plan as applied is in the repository"
like "$(git -C "$work/good/audit" show HEAD:mapping.txt)" 'carol@example.org destination' \
    "so is the mapping export"
is "$(git -C "$work/good/audit" log -p | grep -c '"to":"finalized"')" 3 \
    "the transitions are in its log files"
like "$("$M" --state "$work/good" log bob@example.org)" 'flip bob@example.org -> destination \(wave-1\)' \
    "migrate log ACCOUNT shows its flip"
like "$("$M" --state "$work/good" status carol)" 'carol@example.org \(login carol\), wave wave-2: finalized' \
    "status of one account, by its bare name too"
is "$(grep -rl -e "$PW_ALICE" -e "$PW_BOB" -e "$PW_CAROL" "$work/good" | wc -l)" 0 \
    "no password anywhere in the state directory (SQLite, audit repository, logs)"
before=$(wc -l <"$STUB_DIR/calls")
commits=$(git -C "$work/good/audit" rev-list --count HEAD)
apply good
is "$rc" 0 "a second apply of the same plan"
is "$(wc -l <"$STUB_DIR/calls")" "$before" "runs nothing again"
is "$(git -C "$work/good/audit" rev-list --count HEAD)" "$commits" "and commits nothing"
(cd "$work" && "$M" plan diff good.yaml) >"$work/out" 2>&1
like "$(cat "$work/out")" 'plan: the same as revision 1' "plan diff: the same plan"
sed 's/list: \[alice@example.org, bob, carol\]/list: [alice@example.org, bob, carol, dave]/' \
    "$work/good.yaml" >"$work/good2.yaml"
(cd "$work" && "$M" plan diff good2.yaml) >"$work/out" 2>&1
like "$(cat "$work/out")" 'changed since revision 1' "plan diff: a changed plan"
like "$(cat "$work/out")" '^\+ dave@example.org$' "plan diff: a new account"

# --- rollback ------------------------------------------------------------
: >"$STUB_DIR/calls"
echo exit:69 >"$STUB_DIR/carry-back.alice@example.org"
"$M" --state "$work/good" rollback alice >"$work/out" 2>&1
is "$?" 75 "a rollback whose carry-back fails (the destination down) fails for now (75)"
like "$(cat "$work/out")" 'stays on the destination.*--no-carry-back' \
    "it says the account stays, and what flips it back all the same"
is "$(st good alice@example.org)" finalized "and alice is still cut over, finalized"
: >"$STUB_DIR/calls"
"$M" --state "$work/good" rollback alice >"$work/out" 2>&1
is "$?" 0 "rollback alice"
is "$(cut -f1,4 "$STUB_DIR/calls" | sed 's/\t.*--check.*/+check/; s/\t.*//' | tr '\n' ' ')" \
    "imap-pull carry-back imap-pull carry-back+check " \
    "a delta pull, carry-back, another pull and carry-back --check, before the flip"
is "$(st good alice@example.org)" rolled_back "alice is rolled_back"
is "$("$top/$O/bin/map-flip" --store "$work/good/mapping.db" --list | grep -c '^alice.* source$')" 2 \
    "both her logins go to the source again"
is "$(flips good alice@example.org source)" 1 "the rollback is a commit of its own"
"$M" --state "$work/good" rollback alice >"$work/out" 2>&1
is "$?" 65 "a second rollback is refused"
like "$(cat "$work/out")" 'nothing to roll back' "and says why"
first=$(git -C "$work/good/audit" rev-list --reverse HEAD | head -1)
routes=$("$top/$O/bin/map-flip" --store "$work/good/mapping.db" --list)
echo exit:69 >"$STUB_DIR/carry-back.carol@example.org"
"$M" --state "$work/good" rollback --to "$first" >"$work/out" 2>&1
is "$?" 75 "rollback --to, one carry-back failing: 75"
like "$(cat "$work/out")" 'carol@example.org: .*no route changed' "and says no route changed"
is "$("$top/$O/bin/map-flip" --store "$work/good/mapping.db" --list)" "$routes" \
    "none did"
"$M" --state "$work/good" rollback --to "$first" >"$work/out" 2>&1
is "$?" 0 "rollback --to the first revision"
is "$("$M" --state "$work/good" status --json | jq -c .totals)" '{"rolled_back":3}' \
    "every account rolled back"
is "$("$top/$O/bin/map-flip" --store "$work/good/mapping.db" --list | grep -c destination)" 0 \
    "no route to the destination is left"
"$M" --state "$work/good" retry bob >/dev/null
is "$(st good bob@example.org)" copying "retry of a rolled back account copies it again"
fresh nocarry
plan nocarry
apply nocarry
echo exit:69 >"$STUB_DIR/carry-back.alice@example.org"
"$M" --state "$work/nocarry" rollback --no-carry-back alice >"$work/out" 2>&1
is "$?" 0 "rollback --no-carry-back flips back without carry-back"
is "$(st nocarry alice@example.org)" rolled_back "alice is rolled_back"
rm -f "$STUB_DIR/carry-back.alice@example.org"

# --- retries, permanent failures, the gate between phases ---------------
fresh fail
plan fail
echo exit:75 >"$STUB_DIR/imap-pull.bob@example.org"
echo exit:77 >"$STUB_DIR/jmap-push.carol@example.org"
apply fail
is "$rc" 75 "a phase with a failed account stops the apply (exit 75)"
is "$(st fail bob@example.org)" migrated "bob failed once (75) and was retried"
like "$("$M" --state "$work/fail" status bob | grep -- '-> failed')" 'failed' \
    "his history shows the failure"
is "$(st fail carol@example.org)" failed "carol's refused login (77) is not retried"
like "$("$M" --state "$work/fail" status --json carol@example.org | jq -r '.error_class + ": " + .error')" \
    '^permanent: jmap-push exited 77: jmap-push\[carol@example.org\]: failing as told$' \
    "her error: class and the helper's reason"
is "$(st fail alice@example.org)" migrated "the pilot went on"
unlike "$(totals fail)" finalized "no later phase ran"
"$M" --state "$work/fail" retry --failed >/dev/null
is "$(st fail carol@example.org)" copying "retry --failed: carol goes on where she stopped"
apply fail
is "$rc" 0 "then the apply completes"
is "$(totals fail)" "finalized=3" "everyone finalized"
# below limits.max_failures a failed account is set aside, the rest go on
fresh share
plan share
sed -i 's/  retries: 2/  retries: 0\n  max_failures: 1/' "$work/share.yaml"
echo exit:77 >"$STUB_DIR/jmap-push.carol@example.org"
apply share
is "$rc" 75 "one account failed within max_failures: the apply goes on, and exits 75"
is "$(totals share)" "finalized=2 failed=1" "the others finalized, carol set aside"
like "$(printf '%s\n' "$errtext" | tr '\n' ' ')" "carol@example.org: .*-> failed .*phase .*: 1 of [0-9]+ accounts failed, set aside" "the log says she was set aside"
is "$("$M" --state "$work/share" status --json | jq -c '.failures[] | [.class, .count, .accounts]')" \
    '["permanent",1,"carol@example.org"]' "status groups the failures by reason"
like "$("$M" --state "$work/share" status --json | jq -r '.failures[0].reason')" \
    "jmap-push\[<account>\]" "the reason without the account's name, so that alike failures group"
like "$("$M" --state "$work/share" status)" "failed, by reason" "and so does the table"

# --- hold and release; protocol errors; an unreachable source ------------
fresh hold
plan hold "[alice@example.org, bob, carol]" "  assessment:"
apply hold
is "$(totals hold)" "assessed=3" "an assessment-only plan assesses"

# --- the source's logs: who reads mail over POP3 ---------------------------
fresh logs
cat >"$work/mail.log" <<'EOT'
Dec  4 10:00:01 mx dovecot: pop3-login: Login: user=<Alice@Example.org>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, mpid=1, TLS
Dec  4 10:00:02 mx dovecot: imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.1
Dec  4 10:00:03 mx dovecot: pop3-login: Aborted login (auth failed, 1 attempts in 2 secs): user=<carol>, method=PLAIN
EOT
printf 'Dec  4 09:00:04 pop3-login: Info: Login: user=<bob>, method=PLAIN, rip=192.0.2.1\n' |
    gzip >"$work/mail.log.1.gz"
cat >"$work/cyrus.log" <<'EOT'
Dec  4 10:00:05 mx cyrus/pop3[4242]: login: client.example [192.0.2.1] alice plaintext+TLS User logged in SESSIONID=<x>
Dec  4 10:00:06 mx cyrus/imap[4243]: login: client.example [192.0.2.1] carol plaintext User logged in
EOT
plan logs "[alice@example.org, bob, carol]" "  assessment:
    logs: [mail.log, mail.log.1.gz, cyrus.log]"
echo 'report:{"totals": {"shared_folders": 2, "acl_entries": 3}}' \
    >"$STUB_DIR/imap-pull.alice@example.org"
apply logs
is "$rc" 0 "an assessment that reads the source's logs"
like "$errtext" "assessment: 1 of 3 accounts share 2 folders with others \(3 ACL entries\): alice@example.org \(2\)" \
    "and says who shares folders, from imap-pull's reports"
unlike "$errtext" "calendars and address books" \
    "with no DAV source, nothing about calendars"
like "$errtext" "assessment: 2 of 3 accounts log in over POP3 \(3 logins in 3 logs\): alice@example.org \(2\), bob@example.org \(1\)" \
    "it says who logs in over POP3: Dovecot's lines, a gzip-compressed log, Cyrus's"
is "$(for a in alice@example.org bob@example.org carol@example.org; do
	jq -r .pop3_logins "$work/logs/reports/$a.assess-pop3.json"; done | tr '\n' ' ')" \
    "2 1 0 " "a report per account; a failed POP3 login and an IMAP one do not count"
is "$(state_sql "$work/logs" "SELECT a.account || ':' || f.kind || ':' || f.n FROM findings f JOIN accounts a ON a.id = f.account_id WHERE f.n > 0 ORDER BY 1" | tr '\n' ' ')" \
    "alice@example.org:pop3-logins:2 alice@example.org:shared-folders:2 bob@example.org:pop3-logins:1 " \
    "the findings are kept in the state, for the report's risks"
plan logs "[alice@example.org]" "  assessment:
    logs: [mail.log, nowhere.log]"
apply logs
is "$rc" 65 "a log that is not there: the plan is refused"
like "$errtext" "logs.yaml:[0-9]+:[0-9]+: phases.assessment.logs: cannot read '.*/nowhere.log'" \
    "naming the plan's line and the file"
"$M" --state "$work/hold" hold bob >/dev/null
is "$(st hold bob@example.org)" held "hold bob"
plan hold
echo nohello >"$STUB_DIR/imap-pull.carol@example.org"
echo exit:69 >"$STUB_DIR/imap-pull.alice@example.org"
echo exit:69 >>"$STUB_DIR/imap-pull.alice@example.org"
echo exit:69 >>"$STUB_DIR/imap-pull.alice@example.org"
apply hold
is "$(st hold alice@example.org)" failed "an unreachable source (69), retried until the retries are spent: failed"
like "$("$M" --state "$work/hold" status --json alice@example.org | jq -r '.error_class + " " + (.attempts | tostring)')" \
    'retryable 3' "retryable, after 3 attempts"
is "$rc" 75 "the pilot failed: the apply stops"
fresh davassess
plan davassess "[alice@example.org, bob]" "  assessment:"
sed -i -e 's|^  imap: imaps://127.0.0.1:1|&\n  dav: https://127.0.0.1:3/|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  dav: https://127.0.0.1:5/|' "$work/davassess.yaml"
echo 'report:{"totals": {"shared_collections": 2, "share_entries": 3}}' \
    >"$STUB_DIR/dav-pull.bob@example.org"
apply davassess
like "$errtext" "assessment: 1 of 2 accounts share 2 calendars and address books with others \(3 grants\): bob@example.org \(2\)" \
    "and who shares calendars and address books, from dav-pull's reports"
is "$(state_sql "$work/davassess" "SELECT n FROM findings WHERE kind = 'shared-collections' AND n > 0")" 2 \
    "kept in the state too"
fresh hold2
export STUB_DIR=$work/ctl.hold2
apply hold
is "$(st hold alice@example.org)" finalized "a rerun retries a retryable failure by itself"
is "$(st hold bob@example.org)" held "a held account is left alone"
is "$(st hold carol@example.org)" finalized "carol too"
"$M" --state "$work/hold" release bob >/dev/null
is "$(st hold bob@example.org)" assessed "release: back where he was"
apply hold
is "$(st hold bob@example.org)" finalized "and the next apply moves him"
fresh proto
plan proto "[alice@example.org]" "  pilot: {accounts: [alice]}"
echo nohello >"$STUB_DIR/imap-pull.alice@example.org"
apply proto
like "$("$M" --state "$work/proto" status --json alice@example.org | jq -r .error)" \
    'protocol error: imap-pull did not begin with hello' "a helper that breaks the protocol: a permanent failure"
fresh refused
plan refused "[alice@example.org]" "  pilot: {accounts: [alice]}"
echo refused:4 >"$STUB_DIR/jmap-push.alice@example.org"
echo refused:4 >>"$STUB_DIR/jmap-push.alice@example.org"
echo refused:4 >>"$STUB_DIR/jmap-push.alice@example.org"
apply refused
is "$(st refused alice@example.org)" migrated "messages the destination refuses do not stop the account"
is "$("$M" --state "$work/refused" status --json alice@example.org | jq .anomalies)" 4 \
    "they are its anomalies, counted once"
fresh differ
plan differ "[alice@example.org]" "  pilot: {accounts: [alice]}"
printf 'ok\ndiffer\n' >"$STUB_DIR/jmap-push.alice@example.org"
apply differ
is "$(st differ alice@example.org)" failed "a verify that finds a real difference stops the account before its flip"
is "$("$top/$O/bin/map-flip" --store "$work/differ/mapping.db" --list 2>/dev/null | wc -l)" 0 \
    "and nothing was flipped"

# --- one apply at a time; status while it runs -------------------------
fresh lock
plan lock "[alice@example.org]" "  pilot: {accounts: [alice]}"
echo sleep:3 >"$STUB_DIR/imap-pull.alice@example.org"
(cd "$work" && exec "$M" plan apply lock.yaml >/dev/null 2>&1) &
bg=$!
sleep 1
apply lock
is "$rc" 75 "a second apply of the same state is refused"
like "$errtext" "another 'migrate plan apply' \(pid $bg\)" "and names the one that runs"
"$M" --state "$work/lock" status >/dev/null
is "$?" 0 "status works while apply runs"
wait "$bg"
is "$?" 0 "the first apply completes"

# --- a helper left behind by a killed apply is stopped by the next -------
fresh orphan
plan orphan "[alice@example.org]" "  pilot: {accounts: [alice]}"
echo sleep:60 >"$STUB_DIR/imap-pull.alice@example.org"
(cd "$work" && exec "$M" plan apply orphan.yaml >/dev/null 2>&1) &
bg=$!
sleep 1
kill -9 "$bg"
wait "$bg" 2>/dev/null
orphan=$(pgrep -f "$work/bin/imap-pull" | head -1)
like "$orphan" '^[0-9]+$' "kill -9 of apply leaves its helper running"
apply orphan
is "$rc" 0 "the next apply completes"
like "$errtext" "stopping helper $orphan, left by an earlier run" "after stopping the helper left behind"
alive() {	# PID: running, not a zombie waiting for init
	case $(ps -o stat= -p "$1" 2>/dev/null) in ''|Z*) return 1 ;; esac
}
if alive "$orphan"; then not_ok "which is gone"; else ok "which is gone"; fi

# --- SIGTERM: the helpers stopped, nothing recorded as failed ------------
fresh term
plan term "[alice@example.org]" "  pilot: {accounts: [alice]}"
echo sleep:30 >"$STUB_DIR/imap-pull.alice@example.org"
(cd "$work" && exec "$M" plan apply term.yaml >"$work/term.out" 2>&1) &
bg=$!
sleep 1
t0=$(date +%s)
kill -TERM "$bg"
wait "$bg"
is "$?" 143 "SIGTERM stops an apply (exit 128+15)"
is "$(( $(date +%s) - t0 < 5 ))" 1 "at once, stopping its helper too"
like "$(cat "$work/term.out")" 'stopped by signal 15; run the same command again' \
    "and says how to go on"
is "$(st term alice@example.org)" copying "the account is left where it was, not failed"
apply term
is "$(st term alice@example.org)" migrated "the same command goes on"

# --- kill -9 at random moments ------------------------------------------
fresh crash
accounts="[$(for i in $(seq 1 12); do printf 'u%02d@example.org, ' "$i"; done)alice@example.org]"
plan crash "$accounts" "  pilot: {accounts: [alice]}
  waves:
    - {name: wave-1, batch: 5}
    - {name: wave-2}
  finalize:"
printf 'u%02d@example.org pw-%02d\n' $(for i in $(seq 1 12); do echo $i $i; done) >>"$work/passwords"
for a in $(seq 1 12) alice; do
	case $a in alice) a=alice ;; *) a=$(printf 'u%02d' "$a") ;; esac
	for i in 1 2 3 4 5 6; do echo sleep:0.0$((RANDOM % 9 + 1)); done \
	    >"$STUB_DIR/imap-pull.$a@example.org"
	for i in 1 2 3 4 5 6; do echo sleep:0.0$((RANDOM % 9 + 1)); done \
	    >"$STUB_DIR/jmap-push.$a@example.org"
done
kills=0 helper_kills=0
while [ "$kills" -lt 20 ]; do
	(cd "$work" && exec "$M" plan apply crash.yaml >/dev/null 2>&1) &
	bg=$!
	sleep 0.$((RANDOM % 4))$((RANDOM % 10))
	if [ $((kills % 4)) -eq 3 ]; then
		pkill -9 -f "$work/bin/" && helper_kills=$((helper_kills + 1))
		sleep 0.1
	fi
	kill -9 "$bg" 2>/dev/null && kills=$((kills + 1))
	wait "$bg" 2>/dev/null
	[ "$(totals crash)" = "finalized=13" ] && break
done
# as a writer killed in the middle of a commit leaves it
: >"$work/crash/audit/refs/heads/$(git -C "$work/crash/audit" symbolic-ref --short HEAD 2>/dev/null || echo master).lock"
apply crash
is "$rc" 0 "after $kills kills -9 (and $helper_kills of helpers), a rerun completes"
like "$errtext" "removed .*\.lock, left by a writer that died" \
    "a lock file a killed commit left is removed"
is "$(totals crash)" "finalized=13" "every account finalized"
git -C "$work/crash/audit" fsck --strict >/dev/null 2>&1
is "$?" 0 "the audit repository is still a valid git repository"
bad=0
for a in $(seq 1 12) alice; do
	case $a in alice) a=alice ;; *) a=$(printf 'u%02d' "$a") ;; esac
	[ "$(flips crash "$a@example.org" destination)" = 1 ] || bad=$((bad + 1))
done
is "$bad" 0 "its history has each of the 13 flips exactly once"
is "$("$top/$O/bin/map-flip" --store "$work/crash/mapping.db" --list | grep -v '^#' | grep -c ' destination$')" 26 \
    "every login form routed to the destination"

# --- Sieve and DAV beside the mail ------------------------------------------
fresh extra
plan extra "[alice@example.org, bob]" "  waves:
    - {name: all}"
sed -i -e 's|^  imap: imaps://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:2\n  dav: https://127.0.0.1:3/|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:4\n  dav: https://127.0.0.1:5/|' \
    "$work/extra.yaml"
apply extra
is "$rc" 0 "a plan with Sieve and DAV servers applies"
is "$(grep -E '^(sieve|dav)-(pull|push)	alice' "$STUB_DIR/calls" | cut -f1 | tr '\n' ' ')" \
    "sieve-pull dav-pull sieve-push dav-push sieve-push dav-push sieve-pull dav-pull sieve-push dav-push " \
    "alice: Sieve and DAV after the mail: pulled, pushed, verified, and again after the cutover"
is "$(grep -E '^(sieve|dav)-push	alice' "$STUB_DIR/calls" | grep -c -- --verify-only)" 2 \
    "the verify step verifies only"
is "$("$M" --state "$work/extra" status --json alice | jq -c .items)" \
    '{"Sieve scripts":2,"contacts":4,"events":3}' "status: what alice holds besides mail"
like "$("$M" --state "$work/extra" status)" "besides mail: 4 Sieve scripts, 8 contacts, 6 events" \
    "status: and the totals"

# the assessment asks the destination's Sieve extensions once, for all
fresh caps
plan caps "[alice@example.org, bob, carol]" "  assessment:"
sed -i -e 's|^  imap: imaps://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:2|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:4|' \
    "$work/caps.yaml"
apply caps
is "$rc" 0 "an assessment with Sieve on both sides"
is "$(grep -c '^sieve-push.*--host 127.0.0.1 --port 4 .*--capabilities' "$STUB_DIR/calls")" 1 \
    "sieve-push --capabilities asks the destination once, for three accounts"
is "$(grep '^sieve-pull' "$STUB_DIR/calls" | grep -c -- '--check-extensions fileinto vacation')" 3 \
    "each account's scripts are checked against what it offers"
fresh caps2
for u in alice@example.org bob@example.org carol@example.org; do
	echo exit:69 >"$STUB_DIR/sieve-push.$u"
done
state_wipe "$work/caps"
apply caps
is "$rc" 0 "a destination that cannot be asked does not stop the assessment"
like "$(cat "$work/out" "$work/err")" "Sieve extensions cannot be read .*not checked" \
    "it is said"
is "$(grep -c '^sieve-push' "$STUB_DIR/calls") $(grep -c -- --check-extensions "$STUB_DIR/calls")" \
    "1 0" "once, and the scripts are pulled unchecked"

# --- POP3 ids kept across the flip -----------------------------------------
fresh pop
plan pop "[alice@example.org]" "  waves:
    - {name: all}"
sed -i -e 's|^  imap: imaps://127.0.0.1:1|&\n  pop3: pop3s://127.0.0.1:7|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  pop3: pop3://127.0.0.1:8|' \
    "$work/pop.yaml"
apply pop
is "$rc" 0 "a plan with POP3 servers on both sides applies"
is "$(cut -f1,4 "$STUB_DIR/calls" | grep -E '^(pop3-uidl|jmap-push|imap-pull)' |
    tail -6 | sed -E 's/\t.*--side destination.*/ dest/; s/\t.*//' | tr '\n' ' ')" \
    "imap-pull jmap-push pop3-uidl pop3-uidl dest imap-pull jmap-push " \
    "the cutover reads the POP3 ids of the source, then of the destination, between the final delta and the flip"
like "$(grep '^pop3-uidl' "$STUB_DIR/calls" | head -1)" \
    "pop3-uidl	alice@example.org	 password	--host 127.0.0.1 --port 7 --tls implicit .*--user alice@example.org --archive " \
    "pop3-uidl on the source: its URL, the login and the password"
is "$(sqlite3 "$work/pop/mapping.db" "SELECT account, dest, src FROM pop3_uidls")" \
    "alice@example.org|destination-1|source-1" \
    "the flip keeps each destination id with the source id of the same body"
validate "$(sed '/pop3: pop3:/d' "$work/pop.yaml")"
like "$errtext" "source.pop3 and destination.pop3 go together" \
    "a POP3 server on one side only is refused"

fresh sdir
plan sdir "[alice@example.org]" "  waves:
    - {name: all}"
sed -i -e 's|^  imap: imaps://127.0.0.1:1|&\n  sieve_dir: /home/vmail/{local}/sieve\n  sieve_active: /home/vmail/{local}/.dovecot.sieve|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:4|' "$work/sdir.yaml"
apply sdir
is "$rc" 0 "a plan reading Dovecot's sieve directory applies"
like "$(grep '^sieve-pull' "$STUB_DIR/calls" | head -1)" \
    "sieve-pull	alice@example.org		--dir /home/vmail/alice/sieve --active /home/vmail/alice/.dovecot.sieve --user alice@example.org" \
    "sieve-pull reads the account's directory, with no secret"
validate "$(sed 's|^  sieve_dir:.*|&\n  sieve: sieve://127.0.0.1:2|' "$work/sdir.yaml")"
like "$errtext" "sieve or sieve_dir, not both" "sieve and sieve_dir together are refused"

# --- sharing that waits for its grantee -------------------------------------
fresh acl
plan acl "[alice@example.org, bob]" "  pilot: {accounts: [alice]}
  waves:
    - {name: rest}
  delta: {passes: 1}"
echo bob >"$STUB_DIR/shares.alice@example.org"	# alice's folder, for bob
apply acl
is "$rc" 0 "a plan where alice shares a folder with bob, moved after her, then a delta"
unlike "$errtext" "wiped" "the sharing pass leaves alice's password to her delta"
is "$(head -1 "$STUB_DIR/ready.alice@example.org.1" | cut -c1)" "#" \
    "alice's push is given the accounts on the destination: none yet"
is "$(grep -c -- '--shares-only' "$STUB_DIR/calls")" 1 \
    "once bob has arrived, alice's sharing alone is pushed again, once"
like "$(grep -- '--shares-only' "$STUB_DIR/calls")" \
    "^jmap-push	alice@example.org	 password	--url .* --share-ready .*/share-ready --shares-only" \
    "as alice, with the file of the accounts ready"
last=$(ls "$STUB_DIR" | grep -c '^ready\.alice')
is "$(grep -v '^#' "$STUB_DIR/ready.alice@example.org.$last" | sort | tr '\n' ' ')" \
    "alice@example.org alice@example.org bob bob@example.org bob@example.org bob@example.org " \
    "that file lists alice and bob, by login and by address"
like "$(cat "$work/out")$errtext" "alice@example.org: its sharing \(jmap-push\) pushed again" \
    "and says so"
apply acl
is "$(grep -c -- '--shares-only' "$STUB_DIR/calls")" 1 \
    "nothing pending: a second apply pushes no sharing"

fresh acldav
plan acldav "[alice@example.org, bob]" "  pilot: {accounts: [alice]}
  waves:
    - {name: rest}"
sed -i -e 's|^  imap: imaps://127.0.0.1:1|&\n  dav: https://127.0.0.1:3/|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  dav: https://127.0.0.1:5/|' "$work/acldav.yaml"
echo bob >"$STUB_DIR/dav-shares.alice@example.org"	# alice's calendar
apply acldav
is "$rc" 0 "a plan where alice shares a calendar with bob, moved after her"
like "$(grep '^dav-push	alice' "$STUB_DIR/calls" | head -1)" \
    "--share-ready .*/share-ready" "dav-push is given the accounts on the destination"
is "$(grep -- '--shares-only' "$STUB_DIR/calls" | cut -f1,2)" "dav-push	alice@example.org" \
    "once bob has arrived, dav-push pushes alice's sharing alone again"
like "$(grep -- '--shares-only' "$STUB_DIR/calls")" \
    "--url https://127.0.0.1:5/ --user alice@example.org --archive .* --share-ready .*/share-ready --shares-only" \
    "to the destination's DAV, as alice"
like "$(cat "$work/out")$errtext" "alice@example.org: its sharing \(dav-push\) pushed again" \
    "and says so"

fresh acl2
plan acl2 "[alice@example.org, bob]" "  pilot: {accounts: [bob]}
  waves:
    - {name: rest}"
echo bob >"$STUB_DIR/shares.alice@example.org"
apply acl2
is "$rc" 0 "the other order: bob moved before alice, who shares with him"
like "$(grep -v '^#' "$STUB_DIR/ready.alice@example.org.1" | tr '\n' ' ')" \
    "^bob bob@example.org bob@example.org bob@example.org " \
    "alice's first push is told bob is on the destination already"
is "$(grep -c -- '--shares-only' "$STUB_DIR/calls")" 0 \
    "so her sharing goes with it, and nothing is pushed again"

fresh acl3
plan acl3 "[alice@example.org]" "  waves:
    - {name: all}"
printf 'bob\ncarol\n' >"$STUB_DIR/shares.alice@example.org"
apply acl3
like "$("$M" --state "$work/acl3" status)" \
    "sharing waits: alice@example.org shares folders with bob, carol, not on the destination yet" \
    "status names the sharing that waits for accounts not moved yet"
is "$("$M" --state "$work/acl3" status --json | jq -c .shares_waiting)" \
    '[{"account":"alice@example.org","what":"folders","pending":["bob","carol"]}]' \
    "and so does its JSON"

# --- the public folders, into an account of their own ----------------------
fresh pub
plan pub "[alice@example.org]" "  waves:
    - {name: all}"
sed -i -e 's|^  default_domain: example.org|&\n  public_folders: {account: public, login: alice@example.org}|' \
    -e 's|^  imap: imaps://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:3|' \
    -e 's|^  jmap: http://127.0.0.1:1|&\n  sieve: sieve://127.0.0.1:4|' "$work/pub.yaml"
apply pub
is "$rc" 0 "a plan with public folders applies"
is "$(totals pub)" "migrated=2" "alice and the public folders' account both move"
like "$(grep '^imap-pull	public@example.org' "$STUB_DIR/calls" | head -1)" \
    "--user alice@example.org .*--public" \
    "the public folders are read with alice's login, from the public namespace"
is "$(grep -c '^sieve-pull	public@example.org' "$STUB_DIR/calls")" 0 \
    "and have no Sieve scripts to read"
like "$(grep '^sieve-pull	alice@example.org' "$STUB_DIR/calls")" "--user alice@example.org" \
    "while alice's own are read"
validate "$(sed 's|^  imap: imaps://127.0.0.1:1|  jmap: https://old.example.org/jmap|' "$work/pub.yaml")"
like "$errtext" "accounts.public_folders are read over IMAP" \
    "public folders from a JMAP source are refused"

# --- a JMAP source (Stalwart <= 0.15, or any JMAP server) -------------------
fresh jsrc
plan jsrc "[alice@example.org]" "  assessment:
  waves:
    - {name: all}"
sed -i 's|^  imap: imaps://127.0.0.1:1|  jmap: https://old.example.org/jmap\n  ca_file: passwords|' "$work/jsrc.yaml"
apply jsrc
is "$rc" 0 "a plan whose source is JMAP applies"
is "$(cut -f1 "$STUB_DIR/calls" | grep -c '^imap-pull')" 0 "no imap-pull"
like "$(grep '^jmap-pull' "$STUB_DIR/calls" | head -1)" \
    "jmap-pull	alice@example.org	 password	--url https://old.example.org/jmap --user alice@example.org --ca-file .*passwords --mode assess --report " \
    "jmap-pull assesses, as the account, with its password on stdin"
like "$(grep '^jmap-pull' "$STUB_DIR/calls" | sed -n 2p)" "--mode (full|auto) --archive " \
    "then pulls into the archive"
is "$(cat "$STUB_DIR/got.jmap-pull.alice@example.org")" "$PW_ALICE" \
    "the password it got"
"$M" --state "$work/jsrc" rollback alice >"$work/out" 2>&1
is "$?" 65 "a rollback with carry-back is refused for a JMAP source"
like "$(cat "$work/out")" "carry-back writes to the source over IMAP.*--no-carry-back" \
    "and says to roll back with --no-carry-back"
validate "$(sed 's|^  jmap: https://old.example.org/jmap|&\n  imap: imaps://127.0.0.1|' "$work/jsrc.yaml")"
like "$errtext" "source: 'imap' or 'jmap', not both" "imap and jmap together are refused"
validate "$(sed 's|^  ca_file: passwords|&\n  compress: true|' "$work/jsrc.yaml")"
like "$errtext" "source.compress: IMAP's COMPRESS; a JMAP source has none" \
    "an IMAP option with a JMAP source is refused"
validate "$(sed 's|^  jmap: https://old.example.org/jmap||' "$work/jsrc.yaml")"
like "$errtext" "needs 'source.imap', the source's IMAP URL, or 'source.jmap'" \
    "a source with neither"

done_testing
