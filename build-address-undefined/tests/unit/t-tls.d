build-address-undefined/tests/unit/t-tls.o: tests/unit/t-tls.c \
 tests/unit/test-lib.h helpers/lib/compat.h helpers/lib/banned.h \
 helpers/lib/buf.h helpers/lib/tls.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/tls.h:
