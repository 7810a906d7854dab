/*
 * fake-helper: a helper that follows a script, to drive the code that runs
 * helpers (git's t/helper/test-run-command.c plays the same part).
 *
 *	fake-helper STEP...
 *
 * It first reads the secrets block from stdin (migrate-helper(7)), then
 * runs the steps in order:
 *
 *	hello			the hello event
 *	event:NAME[:K=V,...]	an event with string fields
 *	raw:TEXT		TEXT as a stdout line, as is
 *	err:TEXT		TEXT as a stderr line
 *	secrets			a progress event naming the secret keys read
 *	cat			copy the rest of stdin to stdout
 *	spew:N			N lines on stdout and on stderr, interleaved
 *	sleep:MS		sleep
 *	child-sleep:MS		fork a child that sleeps (it must be killed)
 *	ignore-term		ignore SIGTERM from now on
 *	kill:SIG		kill itself with signal SIG
 *	exit:N			exit with N (the default is 0)
 */
#include "compat.h"

#include <signal.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "evline.h"
#include "secret.h"

static void
msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
event_fields(const char *name, char *fields)
{
	json_t *obj = json_pack("{s:i, s:s}", "v", 1, "event", name);
	char *kv, *save = NULL, *line;

	for (kv = strtok_r(fields, ",", &save); kv;
	    kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			continue;
		*eq = '\0';
		json_object_set_new(obj, kv, json_string(eq + 1));
	}
	line = json_dumps(obj, JSON_COMPACT);
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(obj);
}

int
main(int argc, char **argv)
{
	struct secrets secrets = SECRETS_INIT;
	struct buf err = BUF_INIT;
	int i, code = 0;

	if (secrets_read(&secrets, 0, &err) < 0) {
		fprintf(stderr, "fake-helper: %s\n", err.buf);
		return 64;
	}
	for (i = 1; i < argc; i++) {
		char *step = argv[i], *arg = strchr(step, ':');

		if (arg)
			*arg++ = '\0';
		if (!strcmp(step, "hello")) {
			evline_hello(1, "fake-helper", "0");
		} else if (!strcmp(step, "event")) {
			char *fields = strchr(arg, ':');

			if (fields)
				*fields++ = '\0';
			event_fields(arg, fields ? fields : (char *)"");
		} else if (!strcmp(step, "raw")) {
			printf("%s\n", arg);
			fflush(stdout);
		} else if (!strcmp(step, "err")) {
			fprintf(stderr, "%s\n", arg);
		} else if (!strcmp(step, "secrets")) {
			struct buf keys = BUF_INIT;
			size_t k;

			for (k = 0; k < secrets.nr; k++)
				buf_addf(&keys, "%s%s", k ? "," : "",
				    secrets.items[k].key);
			evline_write(1, "progress", "{s:s}", "secret_keys",
			    keys.buf);
			buf_release(&keys);
		} else if (!strcmp(step, "cat")) {
			char tmp[65536];
			ssize_t n;

			while ((n = read(0, tmp, sizeof(tmp))) > 0)
				if (write(1, tmp, (size_t)n) != n)
					return 74;
		} else if (!strcmp(step, "spew")) {
			long n = strtol(arg, NULL, 10), k;

			for (k = 0; k < n; k++) {
				printf("out %ld\n", k);
				fprintf(stderr, "err %ld\n", k);
			}
			fflush(stdout);
		} else if (!strcmp(step, "sleep")) {
			msleep(strtol(arg, NULL, 10));
		} else if (!strcmp(step, "child-sleep")) {
			if (fork() == 0) {
				/* keep no pipe open: only the group kill ends it */
				close(0);
				close(1);
				close(2);
				msleep(strtol(arg, NULL, 10));
				_exit(0);
			}
		} else if (!strcmp(step, "ignore-term")) {
			signal(SIGTERM, SIG_IGN);
		} else if (!strcmp(step, "kill")) {
			fflush(NULL);
			kill(getpid(), (int)strtol(arg, NULL, 10));
		} else if (!strcmp(step, "exit")) {
			code = (int)strtol(arg, NULL, 10);
			break;
		} else {
			fprintf(stderr, "fake-helper: unknown step '%s'\n",
			    step);
			return 64;
		}
	}
	fflush(NULL);
	secrets_clear(&secrets);
	buf_release(&err);
	return code;
}
