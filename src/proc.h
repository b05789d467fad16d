/* proc.h - the process-wide stop flag set by SIGTERM/SIGINT, and interruptible sleeps. */
#ifndef SCHEMAGATE_PROC_H
#define SCHEMAGATE_PROC_H

#include <signal.h>
#include <stdbool.h>

/* The process-wide stop request. Signal handlers only set these; loops poll them. (Other
 * process-wide state stays static in its module: the log settings in log.c, the sidecar's
 * snapshot in health.c.) */
struct sg_proc {
	volatile sig_atomic_t stop;  /* nonzero once SIGTERM or SIGINT arrived */
	volatile sig_atomic_t signo; /* the first such signal */
};
extern struct sg_proc sg_proc;

/* Installs SIGTERM/SIGINT handlers (first: set stop; second: _exit(128+signo))
 * and ignores SIGPIPE. */
void proc_install_signals(void);

/* True once a stop was requested. */
bool proc_stopping(void);

/* Sleeps ms milliseconds in short slices; returns early (false) if a stop is
 * requested, true when the whole time passed. */
bool proc_sleep_ms(long ms);

/* Milliseconds on CLOCK_MONOTONIC. */
long long proc_now_ms(void);

#endif /* SCHEMAGATE_PROC_H */
