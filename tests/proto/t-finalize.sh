# finalize's checks of the world, with the data path played by stand-in
# helpers (stub-helper) and a real DNS server (dnsmasq, from Debian) on
# loopback asked through the C library's resolver: finalize waits while an
# account is held; then it finds the DNS records that do not point at the
# new deployment and says which; the source's read-only command runs once
# (migrate-plan(5)'s Dovecot example, on a Dovecot of the test's own: an
# APPEND is refused after it);
# the proxy's default route becomes the destination; the decommission
# date goes in the audit; `migrate status` shows what finalize waits for.
. "$(dirname "$0")/lib.sh"

M=$top/$O/bin/migrate
work=${FZ_WORK:-$(mktemp -d)}
dpid=
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/bin"
for h in imap-pull jmap-push; do
	ln -s "$top/tests/proto/stub-helper" "$work/bin/$h"
done
ln -s "$top/$O/bin/map-flip" "$work/bin/map-flip"
export MIGRATE_EXEC_PATH=$work/bin MIGRATE_NO_PROGRESS=1 STUB_DIR=$work/ctl
export GIT_AUTHOR_NAME="Ann Operator" GIT_AUTHOR_EMAIL=ann@example.org
mkdir -p "$STUB_DIR"
printf 'alice@example.org pw-a\nbob@example.org pw-b\n' >"$work/passwords"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dns() {	# the zone, as dnsmasq serves it: SUBMISSIONS-TARGET [JMAP]
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	cat >"$work/dnsmasq.conf" <<EOT
port=$port
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
local=/example.org/
local=/test/
mx-host=example.org,mail.new.test,10
srv-host=_imaps._tcp.example.org,mail.new.test,993
srv-host=_submissions._tcp.example.org,$1,465
srv-host=_pop3._tcp.example.org,.
host-record=mail.new.test,127.0.0.1
host-record=old.example.test,192.0.2.7
cname=autoconfig.example.org,mail.new.test
${2:+srv-host=_jmap._tcp.example.org,$2,443}
EOT
	dnsmasq --conf-file="$work/dnsmasq.conf" --keep-in-foreground \
	    --user=root --pid-file= 2>"$work/dnsmasq.log" &
	dpid=$!
	for i in $(seq 50); do
		grep -q 'started' "$work/dnsmasq.log" && break
		sleep 0.1
	done
}
dns old.example.test

# a Dovecot of the test's own (Debian's, not the world's) with the ACL
# plugin and no ACL yet: the source that finalize makes read-only, with
# the very command migrate-plan(5) gives as its example
dv=$work/dv
mkdir -p "$dv/mail" "$dv/run" "$dv/state"
chmod 755 "$work"	# for Dovecot's users
dport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dv/dovecot.conf" <<EOT
base_dir = $dv/run
state_dir = $dv/state
log_path = $dv/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
mail_location = maildir:$dv/mail/%u
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_plugins = \$mail_plugins acl
service imap-login {
  inet_listener imap {
    port = $dport
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dv/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=$dv/mail/%u
}
plugin {
  acl = vfile:$dv/global-acl
}
EOT
echo 'alice@example.org:{PLAIN}pw-a' >"$dv/passwd"
chown -R dovecot:dovecot "$dv/mail"
dovecot -c "$dv/dovecot.conf" </dev/null >/dev/null 2>&1
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; doveadm -c "$dv/dovecot.conf" stop 2>/dev/null; rm -rf "$work"' EXIT
append() {	# at the test's Dovecot, as alice: "OK" or the refusal
	python3 - "$dport" <<'EOF'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.org", "pw-a")
typ, data = m.append("INBOX", None, None, b"Subject: late\r\n\r\nx\r\n")
print(typ, data[0].decode().split(" (")[0] if typ != "OK" else "")
typ, data = m.select("INBOX", readonly=True)
print("read", typ)
m.logout()
EOF
}
for i in $(seq 50); do append >/dev/null 2>&1 && break; sleep 0.1; done
like "$(append)" "^OK" "the test's Dovecot takes an APPEND before finalize"

{ plan_head fin; cat; } >"$work/fin.yaml" <<EOT
limits:
  retries: 0
accounts:
  default_domain: example.org
  list: [alice, bob]
phases:
  waves:
    - {name: all}
  finalize:
    dns:
      server: 127.0.0.1:$port
      hosts: [mail.new.test]
      require: [mx, imaps, submissions, jmap]
    source_readonly: >-
      echo ran >>$work/readonly &&
      printf '* owner lrs\\n' >$dv/global-acl &&
      doveadm -c $dv/dovecot.conf reload
    decommission: 2027-01-31
EOT
apply() {
	(cd "$work" && "$M" plan apply fin.yaml) >"$work/out" 2>&1
	rc=$?
}
status() { "$M" --state "$work/fin" status "$@"; }

# --- bob held: finalize waits for him, and checks nothing else -------------
sed -e '/^  waves:/,$d' -e 's/^phases:/phases:\n  assessment:/' "$work/fin.yaml" >"$work/assess.yaml"
(cd "$work" && "$M" plan apply assess.yaml) >/dev/null 2>&1
is "$?" 0 "an assessment first"
"$M" --state "$work/fin" hold bob >/dev/null
apply
is "$rc" 0 "an account still on the source: no error"
like "$(status)" "finalize waits: accounts: 1 of 2 accounts are not on the destination yet: bob@example.org \(held\)" \
    "status: finalize waits for bob"
is "$(status --json | jq -r '[.finalize[].what] | join(" ")')" accounts \
    "and checks nothing else while it waits"
[ -e "$work/readonly" ]
is "$?" 1 "the source is not made read-only while it still serves bob"

# --- everyone there: the world does not agree yet --------------------------
"$M" --state "$work/fin" release bob >/dev/null
apply
is "$rc" 75 "finalize finds what is wrong: exit 75"
like "$(cat "$work/out")" "finalize: dns _submissions._tcp.example.org: old.example.test \(192.0.2.7\) is not the new deployment" \
    "the record that points at the old server, by name and address"
like "$(cat "$work/out")" "finalize: dns _jmap._tcp.example.org: no SRV record, and the plan requires one" \
    "a required record that is missing"
st=$(status)
like "$st" "finalize waits: dns _jmap._tcp.example.org" "status names it"
like "$st" "dns _submissions._tcp.example.org: old.example.test" "and the other"
items() { "$M" --state "$work/fin" status --json | jq -r ".finalize[] | select(.ok == $1) | .what" | sort | tr '\n' ' '; }
is "$(items true)" \
    "accounts decommission default route dns _imap._tcp.example.org dns _imaps._tcp.example.org dns _pop3._tcp.example.org dns _pop3s._tcp.example.org dns _submission._tcp.example.org dns autoconfig.example.org dns autodiscover.example.org dns example.org source read-only " \
    "the rest passes: MX, imaps, autoconfig by CNAME; absent ones not required; pop3 says not offered"
is "$(cat "$work/readonly")" ran "the source's read-only command ran"
sleep 1	# the reload
like "$(append | tr '\n' ' ')" "^NO \[NOPERM\] Permission denied read OK" \
    "the Dovecot example works: an APPEND is refused, reading still works"
is "$(head -1 "$work/fin/mapping.txt" | cut -c1-1) $(grep -c '^# default destination$' "$work/fin/mapping.txt")" "# 1" \
    "the mapping's default route is the destination"
log=$(git -C "$work/fin/audit" log --format=%B)
like "$log" "finalize: decommission: ok: the source is to be decommissioned on 2027-01-31" \
    "the decommission date is in the audit, in a commit's message"
like "$log" "finalize: dns _submissions._tcp.example.org: waiting: " \
    "so is what finalize waits for"
like "$(git -C "$work/fin/audit" log -p | grep '^+{' | grep '"what":"decommission"')" '"ok":true' \
    "and in the log file, as JSON"
is "$(git -C "$work/fin/audit" show HEAD:mapping.txt | grep -c '^# default destination$')" 1 \
    "the default route, with the mapping"

# --- the records fixed: finalize is done ------------------------------------
dns mail.new.test mail.new.test
apply
is "$rc" 0 "the records fixed: the apply is done"
like "$(cat "$work/out")" "finalize: the world agrees: 14 checks passed" "and says so"
like "$(status)" "finalize: done, 14 checks passed" "status says finalize is done"
is "$(wc -l <"$work/readonly")" 1 "the read-only command is not run twice"
like "$(git -C "$work/fin/audit" log --format=%B)" \
    "finalize: dns _jmap._tcp.example.org: ok: mail.new.test" "the audit has the fix"
census_is_counted "$work/fin" "finalized"

# --- bad plans --------------------------------------------------------------
sed 's/decommission: 2027-01-31/decommission: soon/' "$work/fin.yaml" >"$work/bad.yaml"
(cd "$work" && "$M" plan validate bad.yaml) >/dev/null 2>"$work/err"
like "$(cat "$work/err")" "phases.finalize.decommission: a date, YYYY-MM-DD, found 'soon'" \
    "a decommission that is not a date"
sed 's/require: \[mx, imaps, submissions, jmap\]/require: [mx, smtp]/' "$work/fin.yaml" >"$work/bad.yaml"
(cd "$work" && "$M" plan validate bad.yaml) >/dev/null 2>"$work/err"
like "$(cat "$work/err")" "phases.finalize.dns.require: 'smtp' is none of mx" \
    "a record finalize does not know"
sed '/hosts: \[mail.new.test\]/d' "$work/fin.yaml" >"$work/bad.yaml"
(cd "$work" && "$M" plan validate bad.yaml) >/dev/null 2>"$work/err"
like "$(cat "$work/err")" "phases.finalize.dns.hosts: the new deployment" \
    "a DNS check without the hosts to compare with"
done_testing
