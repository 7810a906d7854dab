build-address-undefined/tests/integration/imap-smoke.o: \
 tests/integration/imap-smoke.c helpers/lib/compat.h helpers/lib/banned.h \
 helpers/lib/buf.h helpers/lib/imap_resp.h helpers/lib/secret.h \
 helpers/lib/tls.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/buf.h:
helpers/lib/imap_resp.h:
helpers/lib/secret.h:
helpers/lib/tls.h:
