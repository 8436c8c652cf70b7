/*
 * fuzz_kv - the key=value argument parser.
 *
 * Input: arguments separated by "\n" (at most 16).  Oracle: when every
 * argument is accepted, the object written is valid JSON without
 * duplicate keys; an error always comes with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evkit/json.h"
#include "evkit/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evk_json_checker *jc;
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_kv *kv;
	char *copy, *arg, *nl;
	int ok = 1, n = 0;

	if (jc == NULL && (jc = evk_json_checker_new(NULL)) == NULL)
		abort();
	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	if ((kv = evk_kv_new(EVK_KV_NOFILES, 4096, NULL)) == NULL)
		abort();
	for (arg = copy; ok && n < 16; arg = nl + 1, n++) {
		struct evk_err err = EVK_ERR_ZERO;
		nl = strchr(arg, '\n');
		if (nl != NULL)
			*nl = '\0';
		if (evk_kv_add(kv, arg, &err) < 0) {
			if (err.msg[0] == '\0')
				abort();
			ok = 0;
		}
		if (nl == NULL)
			break;
	}
	if (ok) {
		if (evk_kv_write(kv, &out) < 0)
			abort();
		if (evk_json_check(jc, out.p, out.len, NULL, NULL) != 0)
			abort();
	}
	evk_buf_free(&out);
	evk_kv_free(kv);
	free(copy);
	return 0;
}
