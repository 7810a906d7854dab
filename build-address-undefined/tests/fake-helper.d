build-address-undefined/tests/fake-helper.o: tests/fake-helper.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/buf.h \
 helpers/lib/evline.h helpers/lib/secret.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/evline.h:
helpers/lib/secret.h:
