build-address-undefined/helpers/lib/proc.o: helpers/lib/proc.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/log.h helpers/lib/proc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/log.h:
helpers/lib/proc.h:
