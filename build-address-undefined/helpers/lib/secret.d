build-address-undefined/helpers/lib/secret.o: helpers/lib/secret.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/secret.h helpers/lib/xalloc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/secret.h:
helpers/lib/xalloc.h:
