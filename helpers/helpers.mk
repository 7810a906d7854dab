# helpers: one directory a program.  HELPERS are run by migrate and
# installed in $(LIBEXECDIR)/migrate; COMMANDS are for people, in $(BINDIR).
HELPERS := imap-pull
COMMANDS := migrate-archive

imap-pull_SRCS := \
	helpers/imap-pull/imap-pull.c \
	helpers/imap-pull/store.c \
	helpers/imap-pull/sync.c

migrate-archive_SRCS := \
	helpers/migrate-archive/migrate-archive.c
