build-address-undefined/tests/unit/t-imap-resp.o: \
 tests/unit/t-imap-resp.c tests/unit/test-lib.h helpers/lib/compat.h \
 helpers/lib/banned.h helpers/lib/buf.h helpers/lib/imap_resp.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/imap_resp.h:
