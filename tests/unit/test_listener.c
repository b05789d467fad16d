/* test_listener.c - serve.listen values as hostport_split splits them and listener_open refuses
 * them. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "hostport.h"
#include "listener.h"

Test(listener, splits_host_and_port)
{
	static const struct {
		const char *in, *host, *port;
	} ok[] = {
	    {"0.0.0.0:8081", "0.0.0.0", "8081"}, {"127.0.0.1:1", "127.0.0.1", "1"},
	    {"[::]:8081", "::", "8081"},         {"[::1]:65535", "::1", "65535"},
	    {"localhost:80", "localhost", "80"},
	};
	static const char *const bad[] = {
	    "::1:80",  "h:0",  "h:65536", "h:80,h:81", "h:",          "[::1]80", "[]:80",
	    "[::1:80", "h:8a", "h:-1",    "",          "h:123456789", "8081",    ":8081",
	};

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char host[64], port[8];

		cr_assert_eq(hostport_split(ok[i].in, host, sizeof host, port, sizeof port, NULL),
		             0, "%s", ok[i].in);
		cr_expect_str_eq(host, ok[i].host, "%s", ok[i].in);
		cr_expect_str_eq(port, ok[i].port, "%s", ok[i].in);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char host[64], port[8];
		struct sg_err err = {.code = SG_E_OK};

		cr_expect_eq(hostport_split(bad[i], host, sizeof host, port, sizeof port, &err), -1,
		             "%s accepted", bad[i]);
		cr_expect_eq(err.code, SG_E_CONFIG, "%s", bad[i]);
		char quoted[80];

		snprintf(quoted, sizeof quoted, "\"%s\"", bad[i]);
		cr_expect(strstr(err.msg, quoted) != NULL, "%s: %s", bad[i], err.msg);
		/* Opening names the setting: the split alone does not know it. */
		err.msg[0] = '\0';
		cr_expect_eq(listener_open(bad[i], &err), -1, "%s opened", bad[i]);
		cr_expect(strncmp(err.msg, "serve.listen: ", 14) == 0, "%s: %s", bad[i], err.msg);
	}
}
