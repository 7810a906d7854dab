build-address-undefined/helpers/lib/xalloc.o: helpers/lib/xalloc.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/log.h \
 helpers/lib/xalloc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/log.h:
helpers/lib/xalloc.h:
