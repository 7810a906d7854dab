build-address-undefined/tests/unit/t-utf7.o: tests/unit/t-utf7.c \
 tests/unit/test-lib.h helpers/lib/compat.h helpers/lib/banned.h \
 helpers/lib/buf.h helpers/lib/utf7.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/utf7.h:
