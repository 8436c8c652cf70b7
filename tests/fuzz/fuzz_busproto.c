/*
 * tests/fuzz/fuzz_busproto.c - libFuzzer target for the bus protocol's
 * parsers: evk_bus_hello_parse() and evk_bus_control_parse().
 *
 * Any input: both parsers stay inside the span (an exact-size copy under
 * ASan) and either accept it or fail with a message.  An accepted hello
 * has an op, topic patterns inside the line that the topic checker
 * accepts, a window above 0 and a group that is a safe file name; an
 * accepted control line has a known type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/bus.h"
#include "evkit/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct evk_err e = EVK_ERR_ZERO;
	struct evk_bus_hello h;
	struct evk_bus_control c;
	size_t i, j;

	if (evk_bus_hello_parse(p, size, 0, &h, &e) == 0) {
		if (h.op != EVK_BUS_PUB && h.op != EVK_BUS_SUB)
			abort();
		if (h.window == 0 || h.ntopics > EVK_BUS_MAX_TOPICS)
			abort();
		for (i = 0; i < h.ntopics; i++)
			if (h.topics[i].p < p ||
			    h.topics[i].p + h.topics[i].len > p + size ||
			    evk_topic_check(h.topics[i].p, h.topics[i].len, 1,
			        NULL) < 0)
				abort();
		if (h.group.p != NULL) {
			if (h.group.len == 0 || h.group.len > 64)
				abort();
			for (j = 0; j < h.group.len; j++)
				if (h.group.p[j] == '/' || h.group.p[j] == '\0')
					abort();
		}
	} else if (e.msg[0] == '\0') {
		abort();
	}
	e = (struct evk_err)EVK_ERR_ZERO;
	if (evk_bus_control_parse(p, size, &c, &e) == 0) {
		if (c.type < EVK_CTL_OK || c.type > EVK_CTL_END)
			abort();
		if (memchr(c.msg, '\0', sizeof c.msg) == NULL)
			abort();
	} else if (e.msg[0] == '\0') {
		abort();
	}
	return 0;
}
