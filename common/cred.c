#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "cred.h"

/* More than any password or token; a command printing more is broken. */
#define CRED_MAX	(64 * 1024)

/* Run cmd by /bin/sh; its first line of output, or NULL with err set. */
static char *
run_eval(const char *cmd, char *err, size_t errsz)
{
	char *buf = NULL, *nl;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int fd[2], st, devnull;

	if ((buf = malloc(CRED_MAX + 1)) == NULL || pipe2(fd, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "%s", strerror(errno));
		free(buf);
		return NULL;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		close(fd[0]);
		close(fd[1]);
		free(buf);
		return NULL;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDONLY);
		if (devnull != -1)
			dup2(devnull, 0);
		dup2(fd[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (len < CRED_MAX && ((n = read(fd[0], buf + len, CRED_MAX - len)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			len += (size_t)n;
	close(fd[0]);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	buf[len] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errsz, "command failed (%s %d)", WIFEXITED(st) ?
		    "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) :
		    WTERMSIG(st));
		goto fail;
	}
	if ((nl = memchr(buf, '\n', len)) != NULL)
		len = (size_t)(nl - buf);
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || memchr(buf, '\0', len) != NULL) {
		snprintf(err, errsz, "command printed no secret");
		goto fail;
	}
	sodium_memzero(buf + len, CRED_MAX + 1 - len);
	return buf;
fail:
	sodium_memzero(buf, CRED_MAX + 1);
	free(buf);
	return NULL;
}

char *
cred_get(const struct conf *c, const char *account, const char *key,
    char *err, size_t errsz)
{
	char evalkey[64];
	const char *v, *cmd;
	char *s;

	*err = '\0';
	if ((v = conf_get(c, account, key)) != NULL) {
		if ((s = strdup(v)) == NULL)
			snprintf(err, errsz, "out of memory");
		return s;
	}
	if (strcmp(key, "password") == 0)
		snprintf(evalkey, sizeof(evalkey), "passwordeval");
	else
		snprintf(evalkey, sizeof(evalkey), "%s_eval", key);
	if ((cmd = conf_get(c, account, evalkey)) == NULL)
		return NULL;
	if ((s = run_eval(cmd, err, errsz)) == NULL && *err == '\0')
		snprintf(err, errsz, "%s failed", evalkey);
	return s;
}

void
cred_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}
