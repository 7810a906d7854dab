build-address-undefined/helpers/lib/utf7.o: helpers/lib/utf7.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/utf7.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/utf7.h:
