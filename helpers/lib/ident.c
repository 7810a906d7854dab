#include "compat.h"

#include "ident.h"

int
ident_ok(const char *id)
{
	const unsigned char *p;

	if (!*id || strlen(id) > 255)
		return 0;
	for (p = (const unsigned char *)id; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '"' || *p == '\'' ||
		    *p == '\\')
			return 0;
	return 1;
}
