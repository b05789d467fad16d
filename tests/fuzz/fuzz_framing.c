/* fuzz_framing.c - libFuzzer harness: the gate's HTTP framing (framing.c), the first code to see
 * every byte a client sends to the sidecar, and every byte civetweb answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

/* Scans s[0..n) as it would arrive in pieces whose sizes come from the input
 * itself; returns the end the gate would find. */
static size_t end_in_pieces(const char *s, size_t n, const uint8_t *sizes, size_t nsizes)
{
	size_t have = 0, from = 0, k = 0;

	while (have < n) {
		size_t step = nsizes > 0 ? (size_t)(sizes[k++ % nsizes] % 7) + 1 : 1;
		size_t end;

		have = have + step < n ? have + step : n;
		if ((end = framing_head_end(s, have, &from)) != 0)
			return end;
		if (from > have)
			abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s;
	size_t n, from = 0, end;
	struct framing_req req;
	struct framing_resp resp;
	bool head_request;

	if (size < 2)
		return 0;
	head_request = data[0] & 1;
	s = (const char *)data + 2;
	n = size - 2;
	end = framing_head_end(s, n, &from);
	if (end > n || from > n)
		abort();
	/* However the bytes are cut, the same head ends at the same place. */
	if (end_in_pieces(s, n, data + 1, 1) != end || end_in_pieces(s, n, data, 2) != end)
		abort();
	if (end == 0)
		return 0;
	if (end < 2 || s[end - 1] != '\n')
		abort();
	switch (framing_request(s, end, &req)) {
	case FRAMING_OK:
		/* An accepted head starts with a method token and a space. */
		if (!(s[0] >= 'A' && s[0] <= 'Z') && !(s[0] >= 'a' && s[0] <= 'z') &&
		    strchr("!#$%&'*+-.^_`|~0123456789", s[0]) == NULL)
			abort();
		if (req.head_method && strncmp(s, "HEAD ", 5) != 0)
			abort();
		break;
	case FRAMING_BAD:
	case FRAMING_BODY:
	case FRAMING_TOO_LARGE:
		break;
	default:
		abort();
	}
	if (framing_response(s, end, head_request, &resp) == FRAMING_OK) {
		if (resp.status < 200 || resp.status > 599)
			abort();
		if (resp.until_eof && (!resp.close || resp.body != 0 || head_request))
			abort();
		if (head_request && resp.body != 0)
			abort();
		if (strncmp(s, "HTTP/1.", 7) != 0)
			abort();
	}
	return 0;
}
