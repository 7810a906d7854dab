/*
 * compat.h: included first by every .c file of migrate.
 *
 * It sets the feature macros, pulls in the headers nearly every file needs
 * and, last, banned.h so that unsafe functions do not compile.
 */
#ifndef MIGRATE_COMPAT_H
#define MIGRATE_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sysexits.h>
#include <unistd.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define ATTR_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define ATTR_NORETURN		__attribute__((noreturn))
#define ATTR_UNUSED		__attribute__((unused))

/*
 * Exit codes of helpers, from sysexits(3); see migrate-helper(7).
 * EX_PROTOCOL (76) means the server broke the protocol.
 */
#define EXIT_DONE	0

#include "banned.h"

#endif
