build-address-undefined/tests/unit/t-buf.o: tests/unit/t-buf.c \
 tests/unit/test-lib.h helpers/lib/compat.h helpers/lib/banned.h \
 helpers/lib/buf.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
