build-address-undefined/helpers/lib/imap_resp.o: helpers/lib/imap_resp.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/imap_resp.h helpers/lib/tls.h helpers/lib/xalloc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/imap_resp.h:
helpers/lib/tls.h:
helpers/lib/xalloc.h:
