build-address-undefined/helpers/lib/exec_path.o: helpers/lib/exec_path.c \
 helpers/lib/compat.h helpers/lib/banned.h helpers/lib/exec_path.h \
 helpers/lib/xalloc.h
helpers/lib/compat.h:
helpers/lib/banned.h:
helpers/lib/exec_path.h:
helpers/lib/xalloc.h:
