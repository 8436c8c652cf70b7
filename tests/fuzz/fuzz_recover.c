/*
 * fuzz_recover - the log's recovery under damaged segment and index files.
 *
 * Input: byte 0 picks the number of records (3..20), byte 1 the segment
 * size (0: one segment; else small, so that there are several), byte 2
 * the index density; then one byte per record picks its shape; the rest
 * is a list of damage operations on the last segment (truncate, overwrite,
 * append garbage) and on any index (delete, truncate, overwrite, append).
 *
 * Oracle: the log opens; every record of the last segment that lies
 * wholly before the first damaged byte, and every record of the earlier
 * segments, reads back through a cursor, in order, with its sequence
 * number, also from a cursor positioned in the middle; what recovery cut
 * is in the damaged file, byte for byte; whatever else survived is valid
 * JSON; and the log takes a new append that reads back with the next
 * number.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evkit/json.h"
#include "evkit/log.h"

#define NS INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * NS)
#define MAXREC 20
#define MAXOPS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct evk_json_checker *jc;

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "fuzz_recover: %s\n", what);
	abort();
}

static void
setup(void)
{
	struct evk_json_opts o = {1024, 0};

	snprintf(dir, sizeof dir, "/tmp/fuzz-recover-%ld-XXXXXX",
	    (long)getpid());
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	if ((jc = evk_json_checker_new(&o)) == NULL)
		die("checker");
}

/* Empties the directory; at exit removes it too. */
static void
clean(int rm)
{
	struct dirent *de;
	char path[512];
	DIR *d = opendir(dir);

	if (d == NULL)
		die("opendir");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	if (rm)
		rmdir(dir);
}

static void
at_exit(void)
{
	if (dir[0] != '\0')
		clean(1);
}

static const char *
path_of(uint64_t base, const char *ext)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%020llu%s", dir,
	    (unsigned long long)base, ext);
	return buf[i];
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *p;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (p = malloc((size_t)st.st_size + 1)) == NULL)
		die("slurp");
	if (read(fd, p, (size_t)st.st_size) != st.st_size)
		die("read");
	close(fd);
	*len = (size_t)st.st_size;
	return p;
}

static void
spit(const char *path, const void *p, size_t n, int flags)
{
	int fd = open(path, O_WRONLY | flags, 0600);

	if (fd < 0)
		return; /* damage to a file that is not there */
	if (n > 0 && write(fd, p, n) != (ssize_t)n)
		die("write");
	close(fd);
}

/* Record i (1-based) in shape `k`: valid JSON objects, one line each. */
static size_t
make_record(char *buf, size_t cap, int i, unsigned k)
{
	switch (k % 8) {
	case 0: return (size_t)snprintf(buf, cap, "{\"id\":%d}", i);
	case 1:
		return (size_t)snprintf(buf, cap,
		    "{\"id\":%d,\"time\":\"2024-01-01T00:00:%02dZ\"}", i, i);
	case 2:
		return (size_t)snprintf(buf, cap,
		    "{\"id\":%d,\"s\":\"caf\\u00e9 \\\"q\\\"\"}", i);
	case 3:
		return (size_t)snprintf(buf, cap,
		    "{\"id\":%d,\"a\":[1,2,{\"b\":null}],\"t\":true}", i);
	case 4:
		return (size_t)snprintf(buf, cap,
		    "{\"id\":%d,\"long\":\"%0200d\"}", i, 7);
	case 5:
		return (size_t)snprintf(buf, cap,
		    "{\"id\":%d,\"u\":\"\xc3\xbcn\"}", i);
	case 6:
		return (
		    size_t)snprintf(buf, cap, "{\"id\":%d,\"n\":-1.5e3}", i);
	default: return (size_t)snprintf(buf, cap, "{ \"id\" : %d }", i);
	}
}

struct in {
	const uint8_t *p;
	size_t n, pos;
};

static unsigned
byte(struct in *in)
{
	return in->pos < in->n ? in->p[in->pos++] : 0;
}

static unsigned
u16(struct in *in)
{
	unsigned v = byte(in);
	return v << 8 | byte(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char recs[MAXREC][256];
	static size_t lens[MAXREC];
	struct evk_log_opts o = {0};
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log_cursor *cur;
	struct evk_log *log;
	struct in in = {data, size, 0};
	unsigned char *seg, *after, *dmg;
	size_t seglen, afterlen, dmglen, cutlen, len, k;
	uint64_t bases[MAXREC + 1], nb = 0, last, damaged, off, seq, want, m;
	const char *p;
	int nrec, i, op, rc;

	if (dir[0] == '\0') {
		setup();
		atexit(at_exit);
	}
	if (size < 3)
		return 0;
	clean(0);
	nrec = 3 + (int)(byte(&in) % (MAXREC - 2));
	k = byte(&in);
	o.dir = dir;
	o.segment_bytes = k % 4 == 0 ? 0 : 40 + k * 2;
	o.index_every = 1 + byte(&in) % 300;
	o.fsync = EVK_FSYNC_NEVER;

	/* The log as it was written. */
	if (evk_log_open(&o, &log, NULL, &err) < 0)
		die(err.msg);
	for (i = 0; i < nrec; i++) {
		lens[i] =
		    make_record(recs[i], sizeof recs[i], i + 1, byte(&in));
		if (evk_log_append(log, recs[i], lens[i], T0 + i * (NS / 2),
		        &seq, &err) < 0 ||
		    seq != (uint64_t)i + 1)
			die("append");
	}
	evk_log_close(log);
	/* Segment bases: the records are in order, so a segment starts
	 * where a file of that name exists. */
	for (i = 0; i < nrec; i++)
		if (access(path_of((uint64_t)i + 1, ".ndjson"), F_OK) == 0)
			bases[nb++] = (uint64_t)i + 1;
	last = bases[nb - 1];

	/* Damage. */
	seg = slurp(path_of(last, ".ndjson"), &seglen);
	if (seg == NULL)
		die("last segment missing");
	damaged = seglen;
	for (i = 0; i < MAXOPS && in.pos < in.n; i++) {
		unsigned char buf[32];
		size_t n, j, cur_len;
		uint64_t b = bases[byte(&in) % nb];
		op = (int)(byte(&in) % 7);
		free(seg);
		seg = slurp(path_of(last, ".ndjson"), &cur_len);
		switch (op) {
		case 0: /* truncate the last segment */
			off = u16(&in) % (cur_len + 1);
			if (truncate(path_of(last, ".ndjson"), (off_t)off) < 0)
				die("truncate");
			if (off < damaged)
				damaged = off;
			break;
		case 1: /* overwrite bytes of it */
			if (cur_len == 0)
				break;
			off = u16(&in) % cur_len;
			n = 1 + byte(&in) % 8;
			if (n > cur_len - off)
				n = cur_len - off;
			for (j = 0; j < n; j++) {
				buf[j] = (unsigned char)byte(&in);
				if (buf[j] != seg[off + j] && off + j < damaged)
					damaged = off + j;
			}
			{
				int fd =
				    open(path_of(last, ".ndjson"), O_WRONLY);
				if (fd < 0 ||
				    pwrite(fd, buf, n, (off_t)off) !=
				        (ssize_t)n)
					die("pwrite");
				close(fd);
			}
			break;
		case 2: /* append garbage to it */
			n = byte(&in) % sizeof buf;
			for (j = 0; j < n; j++)
				buf[j] = (unsigned char)byte(&in);
			spit(path_of(last, ".ndjson"), buf, n, O_APPEND);
			if (n > 0 && cur_len < damaged)
				damaged = cur_len;
			break;
		case 3: /* delete an index */
			unlink(path_of(b, ".index"));
			break;
		case 4: /* truncate an index */
			(void)!truncate(path_of(b, ".index"), (off_t)byte(&in));
			break;
		case 5: /* overwrite bytes of an index */
			off = byte(&in);
			n = 1 + byte(&in) % 8;
			for (j = 0; j < n; j++)
				buf[j] = (unsigned char)byte(&in);
			{
				int fd = open(path_of(b, ".index"), O_WRONLY);
				if (fd >= 0) {
					(void)!pwrite(fd, buf, n, (off_t)off);
					close(fd);
				}
			}
			break;
		default: /* append to an index */
			n = byte(&in) % sizeof buf;
			for (j = 0; j < n; j++)
				buf[j] = (unsigned char)byte(&in);
			spit(path_of(b, ".index"), buf, n, O_APPEND);
			break;
		}
	}
	free(seg);
	seg = slurp(path_of(last, ".ndjson"), &seglen);

	/* Recovery. */
	if ((rc = evk_log_open(&o, &log, &rec, &err)) < 0)
		die(err.msg);
	if (evk_log_first(log) != 1)
		die("first moved");
	/* What was cut is kept, byte for byte. */
	after = slurp(path_of(last, ".ndjson"), &afterlen);
	if (rec.damaged[0] != '\0') {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, rec.damaged);
		dmg = slurp(path, &dmglen);
		cutlen = seglen - afterlen;
		if (afterlen > seglen || dmg == NULL || dmglen != cutlen ||
		    rec.torn_bytes != cutlen || memcmp(after, seg, afterlen) ||
		    memcmp(dmg, seg + afterlen, cutlen))
			die("damaged file does not hold what was cut");
		free(dmg);
	} else if (afterlen != seglen || memcmp(after, seg, seglen) ||
	    rec.torn_bytes != 0) {
		die("segment changed without a damaged file");
	}
	free(after);
	free(seg);

	/* The intact records: all in earlier segments, and those of the
	 * last one ending before the first damaged byte. */
	want = last - 1;
	for (off = 0, i = (int)last - 1; i < nrec; i++) {
		off += lens[i] + 1;
		if (off > damaged)
			break;
		want++;
	}
	if (evk_log_next(log) < want + 1)
		die("intact records lost");
	if (evk_log_cursor_open(log, 0, &cur, &err) < 0)
		die(err.msg);
	for (seq = 1;; seq++) {
		uint64_t s;
		rc = evk_log_cursor_next(cur, &p, &len, &s, &err);
		if (rc == 0)
			break;
		if (rc != 1 || s != seq)
			die("cursor");
		if (seq <= want) {
			if (len != lens[seq - 1] ||
			    memcmp(p, recs[seq - 1], len))
				die("intact record changed");
		} else {
			enum evk_json_type type;
			if (memchr(p, '\0', len) != NULL ||
			    memchr(p, '\n', len) ||
			    evk_json_check(jc, p, len, &type, NULL) < 0 ||
			    type != EVK_JSON_OBJECT)
				die("invalid record kept");
		}
	}
	if (seq != evk_log_next(log))
		die("cursor ended early");
	evk_log_cursor_close(cur);

	/* Positioning through the (checked or rebuilt) index. */
	if (want > 0) {
		m = 1 + (data[0] + data[size - 1]) % want;
		if (evk_log_cursor_open(log, m, &cur, &err) < 0 ||
		    evk_log_cursor_next(cur, &p, &len, &seq, &err) != 1 ||
		    seq != m || len != lens[m - 1] ||
		    memcmp(p, recs[m - 1], len))
			die("cursor from the middle");
		evk_log_cursor_close(cur);
	}
	seq = evk_log_seek_time(log, T0 + (int64_t)data[1] * (NS / 4));
	if (seq < evk_log_first(log) || seq > evk_log_next(log))
		die("seek_time out of range");

	/* The log goes on. */
	want = evk_log_next(log);
	if (evk_log_append(log, "{\"new\":1}", 9, T0 + 100 * NS, &seq, &err) <
	        0 ||
	    seq != want)
		die("append after recovery");
	if (evk_log_cursor_open(log, want, &cur, &err) < 0 ||
	    evk_log_cursor_next(cur, &p, &len, &seq, &err) != 1 ||
	    seq != want || len != 9 || memcmp(p, "{\"new\":1}", 9))
		die("new record");
	evk_log_cursor_close(cur);
	evk_log_close(log);
	return 0;
}
