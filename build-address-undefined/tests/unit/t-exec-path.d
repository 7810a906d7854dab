build-address-undefined/tests/unit/t-exec-path.o: \
 tests/unit/t-exec-path.c tests/unit/test-lib.h helpers/lib/compat.h \
 helpers/lib/banned.h helpers/lib/exec_path.h
tests/unit/test-lib.h:
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/exec_path.h:
