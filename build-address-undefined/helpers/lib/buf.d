build-address-undefined/helpers/lib/buf.o: helpers/lib/buf.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/xalloc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/xalloc.h:
