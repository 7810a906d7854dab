# helpers: one directory a program.  HELPERS are run by migrate and
# installed in $(LIBEXECDIR)/migrate; COMMANDS are for people, in $(BINDIR).
HELPERS := imap-pull jmap-pull jmap-push map-flip sieve-pull sieve-push dav-pull \
	dav-push carry-back provision pop3-uidl
COMMANDS := migrate-archive

imap-pull_SRCS := \
	helpers/imap-pull/imap-pull.c \
	helpers/imap-pull/acl.c \
	helpers/imap-pull/fetch.c \
	helpers/imap-pull/list.c \
	helpers/imap-pull/record.c \
	helpers/imap-pull/sync.c

jmap-pull_SRCS := \
	helpers/jmap-pull/emails.c \
	helpers/jmap-pull/jmap-pull.c \
	helpers/jmap-pull/mailboxes.c \

migrate-archive_SRCS := \
	helpers/migrate-archive/migrate-archive.c

jmap-push_SRCS := \
	helpers/jmap-push/adopt.c \
	helpers/jmap-push/emails.c \
	helpers/jmap-push/plan.c \
	helpers/jmap-push/jmap-push.c \
	helpers/jmap-push/mailboxes.c \
	helpers/jmap-push/reconcile.c \
	helpers/jmap-push/rescue.c \
	helpers/jmap-push/share.c \
	helpers/jmap-push/update.c \
	helpers/jmap-push/verify.c

carry-back_SRCS := \
	helpers/carry-back/apply.c \
	helpers/carry-back/carry-back.c \
	helpers/carry-back/plan.c

map-flip_SRCS := \
	helpers/map-flip/map-flip.c

dav-pull_SRCS := \
	helpers/dav-pull/collections.c \
	helpers/dav-pull/dav-pull.c \
	helpers/dav-pull/files.c \
	helpers/dav-pull/record.c

dav-push_SRCS := \
	helpers/dav-push/dav-push.c \
	helpers/dav-push/repair.c \
	helpers/dav-push/share.c \
	helpers/dav-push/verify.c

sieve-pull_SRCS := \
	helpers/sieve-pull/sieve-pull.c

pop3-uidl_SRCS := \
	helpers/pop3-uidl/pop3-uidl.c

sieve-push_SRCS := \
	helpers/sieve-push/sieve-push.c

provision_SRCS := \
	helpers/provision/command.c \
	helpers/provision/provision.c \
	helpers/provision/stalwart.c

# the migration proxy: a daemon, for people to run
COMMANDS += migrate-proxy
migrate-proxy_SRCS := \
	helpers/proxy/cmd.c \
	helpers/proxy/config.c \
	helpers/proxy/fastpath.c \
	helpers/proxy/follow.c \
	helpers/proxy/http.c \
	helpers/proxy/identity.c \
	helpers/proxy/imap.c \
	helpers/proxy/linger.c \
	helpers/proxy/login.c \
	helpers/proxy/main.c \
	helpers/proxy/pop3.c \
	helpers/proxy/pop3ids.c \
	helpers/proxy/route.c \
	helpers/proxy/sasl.c \
	helpers/proxy/session.c \
	helpers/proxy/sieve.c \
	helpers/proxy/smtp.c \
	helpers/proxy/socketmap.c
migrate-proxy_PKGS := libevent_core libevent_openssl
migrate-proxy_LIBS := -lhttp_parser	# libhttp-parser-dev has no .pc

# the orchestrator: a command, with the schema migrations built in
COMMANDS += migrate
migrate_SRCS := \
	orchestrator/accounts.c \
	orchestrator/apply.c \
	orchestrator/assess.c \
	orchestrator/audit.c \
	orchestrator/machine.c \
	orchestrator/maillog.c \
	orchestrator/migrate.c \
	orchestrator/plan.c \
	orchestrator/planphases.c \
	orchestrator/plansafe.c \
	orchestrator/provision.c \
	orchestrator/chain.c \
	orchestrator/cli.c \
	orchestrator/db.c \
	orchestrator/dbpg.c \
	orchestrator/dbsqlite.c \
	orchestrator/directory.c \
	orchestrator/dnscheck.c \
	orchestrator/eta.c \
	orchestrator/finalize.c \
	orchestrator/html.c \
	orchestrator/dirhttp.c \
	orchestrator/disk.c \
	orchestrator/display.c \
	orchestrator/doveadm.c \
	orchestrator/exec.c \
	orchestrator/lease.c \
	orchestrator/load.c \
	orchestrator/rollback.c \
	orchestrator/runner.c \
	orchestrator/secrets.c \
	orchestrator/serve.c \
	orchestrator/share.c \
	orchestrator/pull.c \
	orchestrator/report.c \
	orchestrator/reportcharts.c \
	orchestrator/reportpages.c \
	orchestrator/steps.c \
	orchestrator/stalwart_src.c \
	orchestrator/state.c \
	orchestrator/statedb.c \
	orchestrator/statelease.c \
	orchestrator/pgrows.c \
	orchestrator/statepend.c \
	orchestrator/stateres.c \
	orchestrator/statereport.c \
	orchestrator/stateloc.c \
	orchestrator/stateview.c \
	orchestrator/status.c \
	$(O)/state/migrations.c
migrate_LIBS := -lresolv	# finalize's DNS check: res_nquery(3)
migrate_PKGS := libmicrohttpd
PKGS_serve := libmicrohttpd
