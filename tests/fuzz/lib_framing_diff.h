/* lib_framing_diff.h - the differential check between the gate's request framing (framing.c) and
 * a real civetweb, shared by the fuzz harness and the CTest replay of its corpus. */
#ifndef SCHEMAGATE_LIB_FRAMING_DIFF_H
#define SCHEMAGATE_LIB_FRAMING_DIFF_H

#include <stddef.h>

/* Starts civetweb in this process on 127.0.0.1 (an ephemeral port) with the
 * options http.c gives it and one handler that answers with what it parsed.
 * Returns 0, or -1 (message on stderr). Call once. */
int framing_diff_start(void);

/* Feeds data to the gate's framing as the gate does (leading empty lines
 * dropped, FRAMING_MAX_HEAD at most). When the gate would pass a head on,
 * sends exactly that head to civetweb (then ends the stream) and compares the
 * method, path, query, version and header lines civetweb reports with the
 * gate's. Returns NULL when they agree (or the gate would not pass it), else
 * a description of the difference in buf. */
const char *framing_diff_check(const char *data, size_t size, char *buf, size_t buflen);

#endif /* SCHEMAGATE_LIB_FRAMING_DIFF_H */
