# tests: unit tests (TAP programs), tools the tests run, smoke programs.
UNIT_TESTS := \
	tests/unit/t-archive \
	tests/unit/t-buf \
	tests/unit/t-db \
	tests/unit/t-dav-repair \
	tests/unit/t-evline \
	tests/unit/t-exec-path \
	tests/unit/t-imap-resp \
	tests/unit/t-mapping-open \
	tests/unit/t-secret \
	tests/unit/t-sievereq \
	tests/unit/t-proc \
	tests/unit/t-pwscheme \
	tests/unit/t-proxy-pop3ids \
	tests/unit/t-proxy-sasl \
	tests/unit/t-pwfile \
	tests/unit/t-tls \
	tests/unit/t-utf7

TEST_TOOLS := \
	tests/fake-helper \
	tests/integration/imap-smoke \
	tests/bench/raw-fetch \
	tests/bench/jmap-import \
	tests/bench/imap-append

# unit tests of the proxy's own files link them too
$(O)/tests/unit/t-proxy-sasl: $(O)/helpers/proxy/sasl.o \
	$(O)/helpers/proxy/identity.o \
	$(O)/helpers/proxy/cmd.o
$(O)/tests/unit/t-proxy-sasl.o: BUILD_CFLAGS += -Ihelpers/proxy
$(O)/tests/unit/t-proxy-pop3ids: $(O)/helpers/proxy/pop3ids.o
$(O)/tests/unit/t-proxy-pop3ids: LIB_PKGS += libevent_core
$(O)/tests/unit/t-proxy-pop3ids.o: BUILD_CFLAGS += -Ihelpers/proxy
# the state's database layer
$(O)/tests/unit/t-db: $(O)/orchestrator/db.o $(O)/orchestrator/dbsqlite.o \
	$(O)/orchestrator/pgrows.o \
	$(O)/orchestrator/dbpg.o
$(O)/tests/unit/t-db.o: BUILD_CFLAGS += -Iorchestrator
# and migrate's passwords file, orchestrator/secrets.c
$(O)/tests/unit/t-pwfile: $(O)/orchestrator/secrets.o
$(O)/tests/unit/t-pwfile.o: BUILD_CFLAGS += -Iorchestrator
$(O)/tests/unit/t-dav-repair: $(O)/helpers/dav-push/repair.o
$(O)/tests/unit/t-dav-repair.o: BUILD_CFLAGS += -Ihelpers/dav-push
