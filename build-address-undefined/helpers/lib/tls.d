build-address-undefined/helpers/lib/tls.o: helpers/lib/tls.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/log.h helpers/lib/tls.h helpers/lib/xalloc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/log.h:
helpers/lib/tls.h:
helpers/lib/xalloc.h:
