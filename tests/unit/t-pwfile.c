/*
 * t-pwfile.c: migrate's passwords file (orchestrator/secrets.c): read
 * once, looked up by address or login, and a password wiped after its
 * last use fails loudly rather than coming back.
 */
#include "test-lib.h"

#include "buf.h"
#include "plan.h"

static char *
lookup(const struct secret_ref *ref, const char *account, const char *login,
    struct buf *err)
{
	buf_reset(err);
	return secret_password(ref, account, login, err);
}

int
main(void)
{
	char path[] = "/tmp/t-pwfile.XXXXXX";
	const char text[] = "# a comment\nalice@example.org s3cret one\n"
	    "carol\tc4rol\r\nbob@example.org b0b\n";
	struct secret_ref ref = { SECRET_FILE, path, { 0 } };
	struct buf err = BUF_INIT;
	char *pw;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, sizeof(text) - 1) !=
	    (ssize_t)sizeof(text) - 1)
		return 1;
	close(fd);

	pw = lookup(&ref, "alice@example.org", "alice", &err);
	check_str(pw ? pw : "(null)", "s3cret one");
	free(pw);
	pw = lookup(&ref, "carol@example.org", "carol", &err);
	check_str(pw ? pw : "(null)", "c4rol");	/* by login, CR gone */
	free(pw);
	pw = lookup(&ref, "dave@example.org", "dave", &err);
	check(!pw && strstr(err.buf, "has no line for dave@example.org"));

	/* wiped after the last use: it does not come back, it says so */
	secret_password_forget(&ref, "carol@example.org", "carol");
	pw = lookup(&ref, "carol@example.org", "carol", &err);
	check(!pw && strstr(err.buf, "wiped after its last use"));
	pw = lookup(&ref, "bob@example.org", "bob", &err);
	check_str(pw ? pw : "(null)", "b0b");	/* the others stay */
	free(pw);

	/* the file is not read again: its new content does not count */
	unlink(path);
	pw = lookup(&ref, "alice@example.org", NULL, &err);
	check_str(pw ? pw : "(null)", "s3cret one");
	free(pw);
	secrets_forget();
	buf_release(&err);
	return test_done();
}
