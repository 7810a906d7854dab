build-address-undefined/tests/unit/t-secret.o: tests/unit/t-secret.c \
 tests/unit/test-lib.h helpers/lib/compat.h helpers/lib/banned.h \
 helpers/lib/buf.h helpers/lib/secret.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/secret.h:
