#include "test-lib.h"

#include "pwscheme.h"

/* Entries made by `doveadm pw -p secret`, and what Stalwart is given. */
static void
t_stalwart(void)
{
	static const struct {
		const char *in;
		enum pw_form form;
		const char *out, *why;
	} cases[] = {
		{ "{SHA512-CRYPT}$6$ctdVYLYmSSYd/br7$ZEthSI4CKIs5AQzl8LsQWA8r/"
		    "0GhkVgqQzZnMJcqYI0zlsOYIpU46VJs6HyeuQrbnhE5D4DE13rrQAtEhtl"
		    "2Q0", PW_HASH, "$6$ctdVYLYmSSYd/br7$ZEthSI4CKIs5AQzl8LsQWA"
		    "8r/0GhkVgqQzZnMJcqYI0zlsOYIpU46VJs6HyeuQrbnhE5D4DE13rrQAtE"
		    "htl2Q0", NULL },
		{ "{BLF-CRYPT}$2y$05$PszVNFQuewxbPUGFgDvke.RAoUfvJqLOEroNBmwu."
		    "h7XWbf75ZTq.", PW_HASH, "$2y$05$PszVNFQuewxbPUGFgDvke.RAoU"
		    "fvJqLOEroNBmwu.h7XWbf75ZTq.", NULL },
		{ "{ssha}iq+DhRCIkUtMXcfzui/pFwNj8F11ni9d", PW_HASH,
		    "{SSHA}iq+DhRCIkUtMXcfzui/pFwNj8F11ni9d", NULL },
		{ "{SHA256.HEX}2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef"
		    "6a25fe97bf527a25b", PW_HASH, "{SHA256}K7gNU3sdo+OL0wNhqoV"
		    "Whr3g6s1xYv72ol/pe/Unols=", NULL },
		{ "{PLAIN-MD5}5ebe2294ecd0e0f08eab7690d2a6ee69", PW_HASH,
		    "{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", NULL },
		{ "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$WIzhN+npwrd0L+heFc"
		    "vy/g$10UaI78hvBqnicn9Qh4FNOWXG7ONvejuW9rJEuG9y8o", PW_HASH,
		    "$argon2id$v=19$m=65536,t=3,p=1$WIzhN+npwrd0L+heFcvy/g$10Ua"
		    "I78hvBqnicn9Qh4FNOWXG7ONvejuW9rJEuG9y8o", NULL },
		{ "{MD5}$1$pBHKzFtg$C7kgLOxuEI1tvooWpsOBr/", PW_HASH,
		    "$1$pBHKzFtg$C7kgLOxuEI1tvooWpsOBr/", NULL },
		{ "{CRYPT}$2y$05$NixTV6k1P92m303m3vCrnOiDUsPVrHr5YwSbm64BDk8/Z"
		    "HcuIQCz6", PW_HASH, "$2y$05$NixTV6k1P92m303m3vCrnOiDUsPVrH"
		    "r5YwSbm64BDk8/ZHcuIQCz6", NULL },
		{ "{CRYPT}abJnggxhB/yWI", PW_HASH, "{CRYPT}abJnggxhB/yWI",
		    NULL },
		{ "$6$ctdVYLYmSSYd/br7$ZEthSI4CKIs5AQzl8LsQWA8r/0GhkVgq",
		    PW_HASH, "$6$ctdVYLYmSSYd/br7$ZEthSI4CKIs5AQzl8LsQWA8r/0Gh"
		    "kVgq", NULL },
		{ "{PLAIN}s3cret pass", PW_PLAIN, "s3cret pass", NULL },
		{ "{CLEAR}x", PW_PLAIN, "x", NULL },
		{ "{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a8"
		    "1bbaac395731b56", PW_NONE, NULL, "does not verify" },
		{ "{PBKDF2}$1$C0Lx3Goefh.X2zVS$5000$577033bf2011fc72d327b107fd"
		    "0a74e60e15d80f", PW_NONE, NULL, "PHC" },
		{ "{SHA512-CRYPT}$5$short", PW_NONE, NULL, "form" },
		{ "{PLAIN-MD5}xyz", PW_NONE, NULL, "not hex" },
		{ "{SHA}", PW_NONE, NULL, "empty" },
		{ "hunter2", PW_NONE, NULL, "default_pass_scheme" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		const char *why = NULL;
		enum pw_form f = pw_stalwart(cases[i].in, &out, &why);

		check_int(f, ==, cases[i].form);
		if (cases[i].out)
			check_str(out, cases[i].out);
		else
			check(out == NULL);
		if (cases[i].why)
			check(why && strstr(why, cases[i].why));
		free(out);
	}
}

static void
t_scheme(void)
{
	char s[16];

	check_str(pw_scheme("{sha512-crypt}$6$x", s, sizeof(s)), "$6$x");
	check_str(s, "SHA512-CRYPT");
	check_str(pw_scheme("$1$abc", s, sizeof(s)), "$1$abc");
	check_str(s, "CRYPT");
	check_str(pw_scheme("plain", s, sizeof(s)), "plain");
	check_str(s, "");
	check_str(pw_scheme("{A-VERY-LONG-SCHEME-NAME}v", s, sizeof(s)), "v");
	check_str(s, "A-VERY-LONG-SCH");
}

int
main(void)
{
	TEST("stalwart", t_stalwart());
	TEST("scheme", t_scheme());
	return test_done();
}
