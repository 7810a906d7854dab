# helpers/lib: code shared by every binary, built as one static library.
LIB_SRCS := \
	helpers/lib/arcapply.c \
	helpers/lib/arcdb.c \
	helpers/lib/arcindex.c \
	helpers/lib/arcread.c \
	helpers/lib/buf.c \
	helpers/lib/dav.c \
	helpers/lib/davshare.c \
	helpers/lib/evline.c \
	helpers/lib/exec_path.c \
	helpers/lib/fileio.c \
	helpers/lib/helper.c \
	helpers/lib/httpc.c \
	helpers/lib/ident.c \
	helpers/lib/imap.c \
	helpers/lib/imap_resp.c \
	helpers/lib/jmap.c \
	helpers/lib/keywords.c \
	helpers/lib/log.c \
	helpers/lib/linecli.c \
	helpers/lib/managesieve.c \
	helpers/lib/mapping.c \
	helpers/lib/opt.c \
	helpers/lib/pop3.c \
	helpers/lib/proc.c \
	helpers/lib/pushstate.c \
	helpers/lib/pwscheme.c \
	helpers/lib/secret.c \
	helpers/lib/segment.c \
	helpers/lib/strlist.c \
	helpers/lib/shareready.c \
	helpers/lib/sqlrows.c \
	helpers/lib/store.c \
	helpers/lib/tls.c \
	helpers/lib/utf7.c \
	helpers/lib/xalloc.c \
	helpers/lib/yconf.c
