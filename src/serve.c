/* serve.c - `schemagate serve`: the readiness sidecar (checker thread + HTTP server + drain on
 * SIGTERM). */
#include "serve.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "checker.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "proc.h"

/* Sleeps ms without looking at the stop flag (it is already set while draining). */
static void sleep_ms(long ms)
{
	long long deadline = proc_now_ms() + ms;
	long long left;

	while ((left = deadline - proc_now_ms()) > 0) {
		struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
}

/* Ends the process if the orderly shutdown overruns the grace period: the
 * kubelet would SIGKILL us anyway, and an exit code says more. */
static void *watchdog(void *arg)
{
	sleep_ms((long)(intptr_t)arg);
	log_error("shutdown exceeded the grace period, exiting now", NULL);
	_exit(1);
	return NULL;
}

int cmd_serve(const struct cfg *cfg, int nrest, const char **rest, struct sg_err *err)
{
	struct checker *chk = NULL;
	struct http_server *http = NULL;
	pthread_t dog;
	char drain[24];
	long grace;

	(void)rest;
	if (nrest > 0)
		return sg_err_set(err, SG_E_USAGE, "serve takes no arguments");
	if (cfg->check_interval_ms <= 0)
		return sg_err_set(err, SG_E_CONFIG, "serve.check_interval must be positive");
	if (checker_start(cfg, &chk, err) != 0)
		return -1;
	if (http_start(cfg, checker_liveness_deadline_ms(cfg), &http, err) != 0) {
		checker_stop(chk);
		return -1;
	}
	log_info("serving", "listen", cfg->listen, NULL);
	while (!proc_stopping())
		proc_sleep_ms(200);

	/* Readiness fails first, so endpoints controllers drop this pod before
	 * the listener goes away. */
	health_set_shutdown();
	grace = cfg->grace_ms > 0 ? cfg->grace_ms : 1;
	if (pthread_create(&dog, NULL, watchdog, (void *)(intptr_t)grace) == 0)
		pthread_detach(dog);
	snprintf(drain, sizeof drain, "%ld", cfg->drain_ms);
	log_info("stopping: readiness now fails", "drain_ms", drain, NULL);
	if (cfg->drain_ms > 0)
		sleep_ms(cfg->drain_ms);
	http_stop(http);
	checker_stop(chk);
	log_info("stopped", NULL);
	return 0;
}
