# provision against fake-stalwart.py, a STAND-IN for Stalwart's management
# API written from its documentation (Stalwart cannot run here): request
# shapes of the current JMAP API and of 0.15's REST API, hashes carried as
# they are, plain passwords left to the server, authentication, errors,
# idempotency; and the command driver with a scripted command.
. "$(dirname "$0")/lib.sh"

PROV=$top/$O/bin/provision
work=$(mktemp -d)
trap 'kill $fpid 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
SHA='{SHA512-CRYPT}$6$ctdVYLYmSSYd/br7$ZEthSI4CKIs5AQzl8LsQWA8r/0GhkVgqQzZnMJcqYI0zlsOYIpU46VJs6HyeuQrbnhE5D4DE13rrQAtEhtl2Q0'
fpid=

# serve SCENARIO: (re)start the stand-in; sets port
serve() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	coproc FAKE { exec python3 "$top/tests/proto/fake-stalwart.py" "$1" \
	    "$work/state.json"; }
	fpid=$FAKE_PID
	read -r port <&"${FAKE[0]}"
}

# prov SECRETS [options...]: runs provision; sets rc, out, errtext
prov() {
	local secrets=$1
	shift
	printf '%b\n' "$secrets" | timeout 60 "$PROV" "$@" \
	    >"$work/out" 2>"$work/err"
	rc=$?
	out=$(cat "$work/out")
	errtext=$(cat "$work/err")
}
state() { python3 -c "import json,sys; d=json.load(open('$work/state.json')); print(eval(sys.argv[1]))" "$1"; }
ADMIN='admin_password=adminpw'
cur() { echo --driver stalwart --url "http://127.0.0.1:$port" --allow-plaintext --admin-user admin; }

serve ok
prov "hash=$SHA\n$ADMIN\n" $(cur) --mode check --report "$work/r.json" \
    dave@example.org
is "$rc" 0 "check: runs"
is "$(state 'len(d["accounts"])')" 0 "check: creates nothing"
like "$(cat "$work/r.json")" '"action": "create"' "check: reports what would be created"
like "$(cat "$work/r.json")" '"scheme": "SHA512-CRYPT"' "check: and the scheme"

prov "hash=$SHA\n$ADMIN\n" $(cur) --name 'Dave Doe' --alias d.doe@example.org \
    --quota 5G dave@example.org
is "$rc" 0 "create: runs"
like "$out" '"event":"done".*"action":"create"' "create: says so"
is "$(state '[a["name"]+"/"+a["domainId"] for a in d["accounts"].values()]')" \
    "['dave/b']" "create: a User named by its local part in the domain's id"
is "$(state 'list(d["accounts"].values())[0]["credentials"][0]["secret"]')" \
    "${SHA#\{SHA512-CRYPT\}}" "create: the SHA512-CRYPT hash is stored as it is (no Dovecot prefix)"
is "$(state 'list(d["accounts"].values())[0]["description"]')" 'Dave Doe' \
    "create: the display name is the description"
is "$(state 'list(d["accounts"].values())[0]["aliases"]')" \
    "[{'name': 'd.doe', 'domainId': 'b'}]" "create: the alias in the domain"
is "$(state 'list(d["accounts"].values())[0]["quotas"]["maxDiskQuota"]')" \
    5368709120 "create: the quota"
unlike "$out$errtext" 'ZEthSI4C|adminpw' "create: neither hash nor admin password in the output"

prov "hash=$SHA\n$ADMIN\n" $(cur) dave@example.org
is "$rc" 0 "rerun: runs"
like "$out" '"action":"none","exists":true' "rerun: the account exists and is left as it is"
is "$(state 'len(d["accounts"])')" 1 "rerun: nothing is created twice"

prov "hash={PLAIN}tiger123\n$ADMIN\n" $(cur) erin@example.org
is "$(state '[a["credentials"][0]["secret"] for a in d["accounts"].values() if a["name"]=="erin"][0]')" \
    'HASHED-BY-SERVER:tiger123' "plain: the password itself goes, for the server to hash"

prov "hash={CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56\n$ADMIN\n" \
    $(cur) --mode check --report "$work/r2.json" fred@example.org
is "$rc" 0 "uncarried, check: runs"
like "$out" '"kind":"password-not-carried"' "uncarried, check: an anomaly"
like "$(cat "$work/r2.json")" '"why": "a scheme Stalwart does not verify' "uncarried, check: the report says why"
prov "hash={CRAM-MD5}cd3ba7deaad6e5ca\n$ADMIN\n" $(cur) fred@example.org
is "$rc" 65 "uncarried: not created without --missing-password create (65)"
like "$errtext" 'not created: its password cannot be carried' "uncarried: and says so"
prov "hash={CRAM-MD5}cd3ba7deaad6e5ca\n$ADMIN\n" $(cur) --missing-password create \
    fred@example.org
is "$rc" 0 "uncarried: --missing-password create makes it"
is "$(state '[a.get("credentials") for a in d["accounts"].values() if a["name"]=="fred"][0]')" \
    None "uncarried: with no password"

prov "hash={SSHA}iq+DhRCIkUtMXcfzui/pFwNj8F11ni9d\n$ADMIN\n" $(cur) \
    --update password dave@example.org
is "$rc" 0 "update: runs"
is "$(state '[a["credentials"][0]["secret"] for a in d["accounts"].values() if a["name"]=="dave"][0]')" \
    '{SSHA}iq+DhRCIkUtMXcfzui/pFwNj8F11ni9d' "update: --update password replaces the hash"

prov "hash=$SHA\ntoken=tok-reader\n" --driver stalwart --url "http://127.0.0.1:$port" \
    --allow-plaintext gina@example.org
is "$rc" 77 "permission: a token without sysAccountCreate is 77"
like "$errtext" 'forbidden' "permission: and says so"
prov "hash=$SHA\nadmin_password=wrong\n" $(cur) gina@example.org
is "$rc" 77 "credentials: a wrong admin password is 77"
prov "hash=$SHA\n$ADMIN\n" --driver stalwart --url "http://127.0.0.1:$port" \
    --admin-user admin gina@example.org
is "$rc" 64 "plaintext: http:// without --allow-plaintext is refused"
like "$errtext" 'in clear' "plaintext: and says why"
prov "hash=$SHA\n$ADMIN\n" $(cur) hal@nowhere.example
is "$rc" 65 "domain: a domain the destination lacks is 65"
like "$errtext" 'no domain nowhere.example' "domain: and names it"

serve http500
prov "hash=$SHA\n$ADMIN\n" $(cur) ivy@example.org
is "$rc" 75 "http500: 75, try again"
serve lost
prov "hash=$SHA\n$ADMIN\n" $(cur) ivy@example.org
is "$rc" 76 "lost: a create the server does not keep is found by reading back (76)"

# 0.15: REST
serve ok
v015() { echo --driver stalwart --api 0.15 --url "http://127.0.0.1:$port" --allow-plaintext --admin-user admin; }
prov "hash=$SHA\n$ADMIN\n" $(v015) --name 'Dave Doe' --alias d.doe@example.org \
    --quota 1000 dave@example.org
is "$rc" 0 "0.15: create"
is "$(state 'd["accounts"]["rest:dave@example.org"]["type"]+" "+str(d["accounts"]["rest:dave@example.org"]["emails"])')" \
    "individual ['dave@example.org', 'd.doe@example.org']" "0.15: an individual with its addresses"
is "$(state 'd["accounts"]["rest:dave@example.org"]["secrets"][0]')" "${SHA#\{SHA512-CRYPT\}}" \
    "0.15: the hash in secrets"
prov "hash=$SHA\n$ADMIN\n" $(v015) dave@example.org
like "$out" '"action":"none","exists":true' "0.15: rerun leaves it"
prov "hash=$SHA\n$ADMIN\n" $(v015) --name 'David Doe' --update name dave@example.org
is "$(state 'd["accounts"]["rest:dave@example.org"]["description"]')" 'David Doe' \
    "0.15: --update name PATCHes the description"
is "$(state 'len(d["accounts"])')" 1 "0.15: one principal"

# the command driver
cat >"$work/cmd" <<'SH'
#!/bin/sh
# a destination kept as files: exists / create
case $1 in
exists) [ -f "$DIR/$MIGRATE_ACCOUNT" ] ;;
create) { cat; echo "name=$MIGRATE_NAME quota=$MIGRATE_QUOTA aliases=$MIGRATE_ALIASES"; } >"$DIR/$MIGRATE_ACCOUNT" ;;
esac
SH
chmod +x "$work/cmd"
mkdir "$work/dst"
export DIR=$work/dst
cmdd=(--driver command --exists "$work/cmd exists" --create "$work/cmd create")
prov "hash={PLAIN}pw1\n" "${cmdd[@]}" --name Dave --alias d@example.org dave@example.org
is "$rc" 0 "command: create"
is "$(cat "$work/dst/dave@example.org")" "{PLAIN}pw1
name=Dave quota=0 aliases=d@example.org" "command: the entry on stdin, the rest in the environment"
prov "hash={PLAIN}pw1\n" "${cmdd[@]}" dave@example.org
like "$out" '"action":"none","exists":true' "command: rerun leaves it"
prov "hash=$SHA\n" "${cmdd[@]}" erin@example.org
is "$rc" 65 "command: a scheme not in --schemes is not carried"
prov "hash=$SHA\n" "${cmdd[@]}" --schemes PLAIN,SHA512-CRYPT erin@example.org
is "$rc" 0 "command: --schemes widens it"
prov "hash={PLAIN}x\n" --driver command --exists "exit 3" --create true frank@example.org
is "$rc" 75 "command: an exists command that fails is 75"

# Stalwart 0.15 as the source: migrate lists its individuals and gives
# each one's first secret, name, quota and aliases to provision
# (the command driver, a script that keeps what it got; stand-in helpers
# for the mail)
serve source
mkdir -p "$work/bin" "$work/stub" "$work/made"
for h in imap-pull jmap-push sieve-pull sieve-push dav-pull dav-push; do
	ln -sf "$top/tests/proto/stub-helper" "$work/bin/$h"
done
ln -sf "$PROV" "$work/bin/provision"
ln -sf "$top/$O/bin/map-flip" "$work/bin/map-flip"
printf 'adminpw\n' >"$work/admin-pw"
printf 'dave@example.org pw-d\nerin@example.org pw-e\n' >"$work/src-pw"
cat >"$work/made.sh" <<'SH'
#!/bin/sh
case $1 in
exists) [ -f "$MADE/$MIGRATE_ACCOUNT" ] ;;
create) { cat; echo "login=$MIGRATE_LOGIN name=$MIGRATE_NAME quota=$MIGRATE_QUOTA aliases=$MIGRATE_ALIASES"; } >"$MADE/$MIGRATE_ACCOUNT" ;;
esac
SH
chmod +x "$work/made.sh"
cat >"$work/src.yaml" <<EOF
state: $work/src-state
source:
  imap: imap://127.0.0.1:1
  allow_plaintext: true
  auth:
    passwords: {file: $work/src-pw}
destination:
  jmap: http://127.0.0.1:1
  allow_plaintext: true
provision:
  driver: command
  exists: $work/made.sh exists
  create: $work/made.sh create
  schemes: [CRYPT, PLAIN]
limits:
  retries: 0
accounts:
  stalwart:
    url: http://127.0.0.1:$port
    admin_user: admin
    admin_password: {file: $work/admin-pw}
phases:
  assessment:
  pilot: {accounts: [dave@example.org]}
EOF
M=$top/$O/bin/migrate
like "$("$M" plan validate "$work/src.yaml" 2>&1)" "valid: 2 accounts" \
    "stalwart source: its two individuals (not the group)"
STUB_DIR=$work/stub MADE=$work/made MIGRATE_EXEC_PATH=$work/bin \
    MIGRATE_NO_PROGRESS=1 "$M" plan apply "$work/src.yaml" >"$work/src.log" 2>&1
is "$?" 0 "stalwart source: assessment and a pilot"
is "$(jq -r '.action + " " + .password.scheme' \
    "$work/src-state/reports/erin@example.org.assess-provision.json")" \
    "create PLAIN" "stalwart source: erin would be made, her entry's scheme known"
is "$(cat "$work/made/dave@example.org")" "${SHA#\{SHA512-CRYPT\}}
login=dave@example.org name=Dave Doe quota=1073741824 aliases=d.doe@example.org" \
    "stalwart source: dave made with his secret, name, quota and alias"
[ -e "$work/made/erin@example.org" ]
is "$?" 1 "stalwart source: erin, not in the pilot, is not made"
is "$(grep -rl --exclude-dir=audit -e ZEthSI4C -e tiger123 -e adminpw "$work/src-state" | wc -l)" 0 \
    "stalwart source: no secret in the state"

# a CSV with a header: the entry, name, quota and aliases by column
rm -rf "$work/made" && mkdir -p "$work/made"
cat >"$work/accounts.csv" <<'EOF'
email,login,name,hash,quota,aliases
"frank@example.org",frank,"Frank Foe",{PLAIN}pw-f,2G,f.foe@example.org fr@example.org
gina@example.org,,,{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1,,
EOF
printf 'frank@example.org pw-f\ngina@example.org pw-g\n' >"$work/csv-pw"
sed -e "s|^state: .*|state: $work/csv-state|" \
    -e "s|{file: $work/src-pw}|{file: $work/csv-pw}|" \
    -e '/^  stalwart:/,/^    admin_password:/d' \
    -e "s|^accounts:|accounts:\n  csv: $work/accounts.csv|" \
    -e 's|pilot: {accounts: \[dave@example.org\]}|pilot: {accounts: [frank@example.org, gina@example.org]}|' \
    "$work/src.yaml" >"$work/csv.yaml"
STUB_DIR=$work/stub MADE=$work/made MIGRATE_EXEC_PATH=$work/bin \
    MIGRATE_NO_PROGRESS=1 "$M" plan apply "$work/csv.yaml" >"$work/csv.log" 2>&1
is "$?" 75 "csv: the apply stops on gina, whose password cannot be carried"
is "$(cat "$work/made/frank@example.org")" "{PLAIN}pw-f
login=frank@example.org name=Frank Foe quota=2147483648 aliases=f.foe@example.org fr@example.org" \
    "csv: frank made with the columns' entry, name, quota and aliases"
like "$(jq -r .password.why "$work/csv-state/reports/gina@example.org.assess-provision.json")" \
    "not among those the command takes" "csv: gina's report says why"
like "$(cat "$work/csv.log")" "gina@example.org: .*failed.*password cannot be carried" \
    "csv: gina fails, and stays on the source"

done_testing
