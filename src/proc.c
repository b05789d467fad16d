/* proc.c - signal handling and monotonic time. */
#include "proc.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

struct sg_proc sg_proc;

static void on_stop_signal(int signo)
{
	if (sg_proc.stop) {
		/* Second signal: the operator means it. */
		_exit(128 + signo);
	}
	sg_proc.signo = signo;
	sg_proc.stop = 1;
}

void proc_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: blocking calls return EINTR so loops notice the flag. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

bool proc_stopping(void)
{
	return sg_proc.stop != 0;
}

long long proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool proc_sleep_ms(long ms)
{
	long long deadline = proc_now_ms() + ms;

	for (;;) {
		long long left = deadline - proc_now_ms();
		if (proc_stopping())
			return false;
		if (left <= 0)
			return true;
		if (left > 50)
			left = 50;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000000L};
		nanosleep(&ts, NULL);
	}
}
