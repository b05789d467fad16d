/* spawn.c - starts N copies of a command at the same instant and timestamps each exit (bench
 * helper). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Prints, one line per child in the order they exit:
 *   <index> <exit status> <exit time, Unix epoch seconds with microseconds>
 * plus a first line "start <epoch>" taken just before the children are
 * released. Exit status is 128+signal for a child killed by a signal.
 *
 * The children are forked first and block on a pipe; closing the pipe's write
 * end releases all of them at once, so the fork cost of child k does not delay
 * child 0. Each child's stderr and stdout go to LOGDIR/<index>.log (or
 * /dev/null without -l) so the harness can show why a process failed. */

#define SPAWN_MAX 4096

static void usage(void)
{
	fprintf(stderr, "usage: spawn [-l LOGDIR] N -- COMMAND [ARG...]\n");
	exit(2);
}

static double now_epoch(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long parse_count(const char *s)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > SPAWN_MAX)
		usage();
	return (long)v;
}

/* In the child: waits for the release, points stdout/stderr at its log, execs. */
static void run_child(int gate, const char *logdir, long idx, char **argv)
{
	char path[PATH_MAX];
	char c;
	int fd, n;

	if (logdir != NULL) {
		n = snprintf(path, sizeof path, "%s/%ld.log", logdir, idx);
		if (n < 0 || (size_t)n >= sizeof path)
			_exit(125);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	} else {
		fd = open("/dev/null", O_WRONLY);
	}
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(125);
	close(fd);
	while (read(gate, &c, 1) < 0 && errno == EINTR)
		;
	close(gate);
	execvp(argv[0], argv);
	fprintf(stderr, "spawn: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv)
{
	const char *logdir = NULL;
	pid_t *pids;
	long n, left;
	int gate[2];
	int i = 1;

	if (i + 1 < argc && strcmp(argv[i], "-l") == 0) {
		logdir = argv[i + 1];
		i += 2;
	}
	if (i + 2 >= argc || strcmp(argv[i + 1], "--") != 0)
		usage();
	n = parse_count(argv[i]);
	argv += i + 2;
	if ((pids = calloc((size_t)n, sizeof *pids)) == NULL || pipe(gate) != 0) {
		perror("spawn");
		return 1;
	}
	for (long k = 0; k < n; k++) {
		pid_t p = fork();

		if (p < 0) {
			perror("spawn: fork");
			/* Release and reap what we started: no orphans left behind. */
			close(gate[1]);
			for (long j = 0; j < k; j++)
				kill(pids[j], SIGKILL);
			while (wait(NULL) > 0)
				;
			return 1;
		}
		if (p == 0) {
			close(gate[1]);
			run_child(gate[0], logdir, k, argv);
		}
		pids[k] = p;
	}
	close(gate[0]);
	printf("start %.6f\n", now_epoch());
	fflush(stdout);
	close(gate[1]);
	for (left = n; left > 0;) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		double t = now_epoch();
		long idx = -1;
		int code;

		if (p < 0) {
			if (errno == EINTR)
				continue;
			perror("spawn: waitpid");
			return 1;
		}
		for (long k = 0; k < n; k++)
			if (pids[k] == p)
				idx = k;
		if (idx < 0)
			continue;
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		printf("%ld %d %.6f\n", idx, code, t);
		left--;
	}
	free(pids);
	return 0;
}
