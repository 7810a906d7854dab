build-address-undefined/tests/unit/t-evline.o: tests/unit/t-evline.c \
 tests/unit/test-lib.h helpers/lib/compat.h helpers/lib/banned.h \
 helpers/lib/buf.h helpers/lib/evline.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/evline.h:
