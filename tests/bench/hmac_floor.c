/*
 * tests/bench/hmac_floor.c - the time libsodium's HMAC-SHA256 alone takes
 * over the lines of a file (the canonical bytes that evsign signs, from
 * `evsign canon -k KEY`), keyed once as evsign does.  The file is read
 * into memory first; only the MACs are timed, in CPU seconds of this
 * process.  A floor for evsign sign and verify: whatever else they do,
 * they spend this.
 *
 * usage: hmac_floor FILE   (prints "seconds lines")
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

int
main(int argc, char **argv)
{
	static unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
	crypto_auth_hmacsha256_state keyed, st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	struct timespec t0, t1;
	char *text = NULL, *p, *nl, *end;
	size_t len = 0, cap = 0, n, lines = 0;
	FILE *f;

	if (argc != 2 || sodium_init() < 0 ||
	    (f = fopen(argv[1], "rb")) == NULL)
		return 2;
	do {
		if (len == cap &&
		    (text = realloc(text, cap = cap * 2 + 65536)) == NULL)
			return 2;
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	randombytes_buf(key, sizeof key);
	crypto_auth_hmacsha256_init(&keyed, key, sizeof key);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (p = text, end = text + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		st = keyed;
		crypto_auth_hmacsha256_update(&st, (unsigned char *)p,
		    (unsigned long long)(nl - p));
		crypto_auth_hmacsha256_final(&st, mac);
		lines++;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	printf("%.3f %zu\n",
	    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	    lines);
	free(text);
	return 0;
}
