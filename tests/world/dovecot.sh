# tests/world/dovecot.sh: the world's source server, sourced by
# tests/world/world (its variables and helpers).

# --- Dovecot (source) --------------------------------------------------

dovecot_conf() {
	local d=$W/dovecot
	mkdir -p "$d/run" "$d/state" "$d/home" "$d/acl" "$d/public"
	chown vmail:vmail "$d/acl" "$d/public"
	cat >"$d/dovecot.conf" <<EOF
# migrate test world: the source server
base_dir = $d/run
state_dir = $d/state
log_path = $W/log/dovecot.log
protocols = imap pop3 sieve lmtp submission
listen = 127.0.0.1
ssl = yes
ssl_cert = <$W/tls/server.pem
ssl_key = <$W/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_master_user_separator = *
first_valid_uid = 1
mail_uid = vmail
mail_gid = vmail
mail_plugins = acl
pop3_uidl_format = %08Xu%08Xv
submission_relay_host = 127.0.0.1
submission_relay_port = 9
hostname = source.example.org
# the proxy's tests: a proxy here may tell the client's address (IMAP ID,
# XCLIENT), and the haproxy listener takes the PROXY protocol
login_trusted_networks = 127.0.0.0/8
haproxy_trusted_networks = 127.0.0.0/8
# the doveadm HTTP API, for migrate's accounts.dovecot url
doveadm_api_key = $(secret doveadm)
service doveadm {
  inet_listener http {
    address = 127.0.0.1
    port = $SRC_DOVEADM_PORT
  }
}
passdb {
  driver = passwd-file
  args = $d/master-users
  master = yes
  result_success = continue
}
passdb {
  driver = passwd-file
  args = $d/passwd
}
userdb {
  driver = passwd-file
  args = $d/passwd
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}
protocol lmtp {
  mail_plugins = \$mail_plugins sieve
}
# COMPRESS=DEFLATE, for imap-pull --compress
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib imap_acl
}
# ACLs (RFC 4314), checked as the user even when the master user logs in,
# and the folders other users share, under shared/OWNER/ (owners with
# alice's storage only: one location for every owner; carol's separator
# is another, so she has none).  Readers look owners up in the userdb.
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
  acl = vfile
  acl_user = %u
  acl_shared_dict = file:$d/acl/shared-mailboxes.db
}
service auth {
  unix_listener auth-userdb {
    mode = 0777
  }
}
# public folders, under Public/ (each with its dovecot-acl; carol, whose
# separator is another, has none)
namespace public {
  type = public
  separator = /
  prefix = Public/
  location = maildir:$d/public:LAYOUT=fs:INDEXPVT=~/public
  subscriptions = no
  list = children
}
namespace shared {
  type = shared
  separator = /
  prefix = shared/%%u/
  location = maildir:%%h/Maildir:LAYOUT=fs:INDEXPVT=~/shared/%%u
  subscriptions = no
  list = children
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $SRC_IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $SRC_IMAPS_PORT
    ssl = yes
  }
  inet_listener imap_haproxy {
    address = 127.0.0.1
    port = $SRC_IMAP_HAPROXY_PORT
    haproxy = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $SRC_POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $SRC_POP3S_PORT
    ssl = yes
  }
}
service managesieve-login {
  inet_listener sieve {
    address = 127.0.0.1
    port = $SRC_SIEVE_PORT
  }
}
service submission-login {
  inet_listener submission {
    address = 127.0.0.1
    port = $SRC_SUBMISSION_PORT
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $SRC_LMTP_PORT
  }
}
EOF
	: >"$d/passwd.new"
	for u in $USERS bench $NEW_USERS; do
		local home=$d/home/$u login mail sep extra
		login=$(user_login "$u")
		[ "$u" = bench ] && login=bench@example.org
		mail=$(user_mail "$u")
		[ "$u" = bench ] && mail="maildir:~/Maildir:LAYOUT=fs"
		sep=$(user_sep "$u")
		# the hash again under a name doveadm auth lookup shows (it
		# hides "password"), as migrate's accounts.dovecot reads it,
		# and in the userdb, for the doveadm HTTP API (which has no
		# auth lookup)
		extra="userdb_mail=$mail migrate_hash={PLAIN}$(secret "$u")"
		extra="$extra userdb_migrate_hash={PLAIN}$(secret "$u")"
		[ "$sep" = / ] || extra="$extra userdb_namespace/inbox/separator=$sep userdb_namespace/shared/disabled=yes userdb_namespace/public/disabled=yes"
		echo "$login:{PLAIN}$(secret "$u")::::$home::$extra" >>"$d/passwd.new"
	done
	mv "$d/passwd.new" "$d/passwd"
	echo "admin:{PLAIN}$(secret admin)" >"$d/master-users"
	chmod 640 "$d/passwd" "$d/master-users"
	chgrp dovecot "$d/passwd" "$d/master-users"
	chown vmail:vmail "$d/home"
	dovecot -c "$d/dovecot.conf" -n >/dev/null
}

start_dovecot() {
	local d=$W/dovecot
	pid_alive "$d/run/master.pid" && return 0
	dovecot_conf
	dovecot -c "$d/dovecot.conf" </dev/null >>"$W/log/dovecot.out" 2>&1
	wait_port $SRC_IMAP_PORT "Dovecot IMAP"
	wait_port $SRC_POP3_PORT "Dovecot POP3"
	wait_port $SRC_SIEVE_PORT "Dovecot ManageSieve"
}

# Import a generated corpus into a Dovecot user, keeping flags, keywords
# and internal dates, then subscribe its folders and install Sieve scripts.
seed_dovecot_user() {
	local u=$1 login=$2 c=$W/corpus/$1 home=$W/dovecot/home/$1
	local conf=$W/dovecot/dovecot.conf
	[ -e "$c/.imported" ] && return 0
	rm -rf "$c"
	local args="-s $SEED -u $(user_dest "$u") -S $(user_sep "$u")"
	if [ "$u" = bench ]; then
		"$W/bin/mkcorpus" -p bench -n 20000 $args -o "$c"
	else
		"$W/bin/mkcorpus" -n "$(user_count "$u")" \
		    -B "$(user_big "$u")" $args -o "$c"
	fi
	chown -R vmail:vmail "$c"
	doveadm -c "$conf" import -u "$login" \
	    -s "maildir:$c/maildir:LAYOUT=fs:UTF-8:INBOX=$c/maildir/INBOX" \
	    "" all
	# import skips folders without messages: create every corpus folder;
	# every one is subscribed but "Old Stuff", which tests unsubscribed
	local sep box
	sep=$(user_sep "$u")
	(cd "$c/maildir" && find . -name cur -type d) | sed 's|^\./||; s|/cur$||' |
	    while IFS= read -r box; do
		box=$(printf '%s' "$box" | tr / "$sep")
		doveadm -c "$conf" mailbox create -u "$login" "$box" \
		    2>/dev/null || true
		doveadm -c "$conf" mailbox subscribe -u "$login" "$box"
	done
	doveadm -c "$conf" mailbox unsubscribe -u "$login" "Old Stuff" \
	    2>/dev/null || true
	if [ -d "$c/sieve" ]; then
		mkdir -p "$home/sieve"
		cp "$c"/sieve/*.sieve "$home/sieve/"
		ln -sfn sieve/main.sieve "$home/.dovecot.sieve"
		chown -R vmail:vmail "$home"
	fi
	# alice shares a folder with bob, who reads it (RFC 4314 "lrs")
	if [ "$u" = alice ]; then
		doveadm -c "$conf" acl set -u "$login" Projects/Alpha \
		    user=bob@example.org lookup read write-seen
		doveadm -c "$conf" acl recalc -u "$login"
	fi
	touch "$c/.imported"
}

# One public folder, Public/Announcements: alice may do everything there,
# bob read it; three messages, saved by alice.
seed_public() {
	local d=$W/dovecot box=$W/dovecot/public/Announcements i
	[ -e "$d/public/.seeded" ] && return 0
	mkdir -p "$box/cur" "$box/new" "$box/tmp"
	printf 'user=alice@example.org lrwstipekxa\nuser=bob@example.org lrs\n' \
	    >"$box/dovecot-acl"
	chown -R vmail:vmail "$d/public"
	for i in 1 2 3; do
		printf 'From: office@example.org\r\nTo: all@example.org\r\nSubject: announcement %d\r\nDate: Mon, 2 Nov 2026 09:0%d:00 +0000\r\nMessage-ID: <announce-%d@example.org>\r\n\r\nThe office is closed on day %d.\r\n' \
		    "$i" "$i" "$i" "$i" |
		    doveadm -c "$d/dovecot.conf" save -u alice@example.org \
		    -m Public/Announcements
	done
	touch "$d/public/.seeded"
}
