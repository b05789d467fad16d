/* hostport.c - "HOST:PORT" and "[V6]:PORT" taken apart: the grammar of serve.listen. */
#include "hostport.h"

#include <string.h>

#include "num.h"

/* Values quoted in messages are cut to this many bytes. */
#define SHOW 64

static const char *more(const char *s)
{
	return strlen(s) > SHOW ? "..." : "";
}

int hostport_split(const char *addr, char *host, size_t hn, char *port, size_t pn,
                   struct sg_err *err)
{
	struct sg_err why;
	const char *h, *p;
	size_t hl, pl;
	long num;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close == addr + 1 || close[1] != ':')
			return sg_err_set(err, SG_E_CONFIG,
			                  "\"%.*s%s\" is not [IPV6]:PORT (e.g. [::]:8081)", SHOW,
			                  addr, more(addr));
		h = addr + 1;
		hl = (size_t)(close - h);
		p = close + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || colon == addr)
			return sg_err_set(err, SG_E_CONFIG,
			                  "\"%.*s%s\" is not HOST:PORT (e.g. 0.0.0.0:8081)", SHOW,
			                  addr, more(addr));
		if (memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return sg_err_set(
			    err, SG_E_CONFIG,
			    "\"%.*s%s\": put an IPv6 address in brackets (e.g. [::]:8081)", SHOW,
			    addr, more(addr));
		h = addr;
		hl = (size_t)(colon - addr);
		p = colon + 1;
	}
	pl = strlen(p);
	if (pl == 0 || strspn(p, "0123456789") != pl)
		return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\": bad port: digits expected", SHOW,
		                  addr, more(addr));
	if (num_parse_long(p, 1, 65535, &num, &why) != 0)
		return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\": bad port: %s", SHOW, addr,
		                  more(addr), why.msg);
	if (hl >= hn || pl >= pn)
		return sg_err_set(err, SG_E_CONFIG, "\"%.*s%s\": host too long", SHOW, addr,
		                  more(addr));
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl + 1);
	return 0;
}
