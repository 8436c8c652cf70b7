/*
 * Unit tests of the log (lib/log.c): the ring in memory, segments on
 * disk, recovery, indexes, retention, fsync policies and cursors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "evkit/log.h"
#include "t.h"

#define NS INT64_C(1000000000)
#define T0 (INT64_C(1700000000) * NS)
#define SEG1 "00000000000000000001.ndjson"

/* --- helpers ------------------------------------------------------------- */

static void
rm_rf(const char *path)
{
	struct dirent *de;
	struct stat st;
	char sub[4096];
	DIR *d;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* A new empty directory under /tmp; remove with done_dir(). */
static char *
new_dir(void)
{
	char *p = strdup("/tmp/evk-test-log-XXXXXX");

	if (p == NULL || mkdtemp(p) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	return p;
}

static void
done_dir(char *dir)
{
	rm_rf(dir);
	free(dir);
}

static const char *
path_in(const char *dir, const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
	return buf[i];
}

static const char *
seg(uint64_t base, const char *ext)
{
	static char buf[4][64];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%020llu%s", (unsigned long long)base,
	    ext);
	return buf[i];
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (long long)st.st_size;
}

static int
exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static void
append_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void
write_file(const char *path, const char *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* Record i: {"id":"00i","time":"<T0 + i s>","data":"..."}, 69 bytes for
 * i < 1000, the time matching what append_n() stores so that rebuilt
 * indexes equal written ones. */
static size_t
record(char *buf, size_t cap, int i)
{
	time_t s = (time_t)(T0 / NS) + i;
	struct tm tm;
	char ts[32];

	gmtime_r(&s, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return (size_t)snprintf(buf, cap,
	    "{\"id\":\"%03d\",\"time\":\"%s\",\"data\":\"record number %03d\"}",
	    i, ts, i);
}

/* Appends records first..last (numbers i), record i stored at T0 + i s.
 * Returns the number appended without error. */
static int
append_n(struct evk_log *log, int first, int last)
{
	struct evk_err err = EVK_ERR_ZERO;
	char buf[256];
	uint64_t seq;
	int i, ok = 0;

	for (i = first; i <= last; i++) {
		size_t n = record(buf, sizeof buf, i);
		if (evk_log_append(log, buf, n, T0 + i * NS, &seq, &err) == 0)
			ok++;
		else
			printf("# append %d: %s\n", i, err.msg);
	}
	return ok;
}

/* Reads everything a cursor has; checks that record k (seq k) is rec(k)
 * for k from `from`.  Returns the number of records read. */
static int
read_check(struct evk_log *log, uint64_t from)
{
	struct evk_log_cursor *cur;
	struct evk_err err = EVK_ERR_ZERO;
	const char *p;
	char want[256];
	size_t len, wn;
	uint64_t seq, expect = from ? from : evk_log_first(log);
	int rc, n = 0;

	if (evk_log_cursor_open(log, from, &cur, &err) < 0)
		return -1;
	while ((rc = evk_log_cursor_next(cur, &p, &len, &seq, &err)) == 1) {
		wn = record(want, sizeof want, (int)seq);
		CHECK_INT(seq, expect);
		CHECK_MEM(p, len, want, wn);
		expect++;
		n++;
	}
	CHECK_INT(rc, 0);
	if (rc < 0)
		printf("# %s\n", err.msg);
	evk_log_cursor_close(cur);
	return n;
}

static struct evk_log *
open_log(const char *dir, uint64_t segment_bytes, struct evk_log_recovery *rec,
    struct evk_err *err)
{
	struct evk_log_opts o = {0};
	struct evk_log *log = NULL;
	int rc;

	o.dir = dir;
	o.segment_bytes = segment_bytes;
	o.fsync = EVK_FSYNC_NEVER;
	rc = evk_log_open(&o, &log, rec, err);
	if (rc < 0 && err != NULL)
		printf("# open: %s\n", err->msg);
	return log;
}

static int
count_files(const char *dir, const char *suffix)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	size_t sl = strlen(suffix), nl;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		nl = strlen(de->d_name);
		if (nl >= sl && !strcmp(de->d_name + nl - sl, suffix))
			n++;
	}
	closedir(d);
	return n;
}

/* --- memory ---------------------------------------------------------------- */

TEST(mem_append_read)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_err err = EVK_ERR_ZERO;

	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_first(log), 1);
	CHECK_INT(evk_log_next(log), 1);
	CHECK_INT(append_n(log, 1, 50), 50);
	CHECK_INT(evk_log_next(log), 51);
	CHECK_INT(evk_log_durable(log), 51);
	CHECK_INT(evk_log_sync(log, &err), 0);
	CHECK_INT(read_check(log, 0), 50);
	CHECK_INT(read_check(log, 17), 34);
	CHECK_INT(read_check(log, 51), 0);
	evk_log_close(log);
}

TEST(mem_ring_drops_oldest_and_gap)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_log_cursor *cur;
	struct evk_err err = EVK_ERR_ZERO;
	const char *p;
	size_t len;
	uint64_t seq, first;

	o.retain_bytes = 1024;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_cursor_open(log, 0, &cur, &err), 0);
	CHECK_INT(append_n(log, 1, 3), 3);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 1);
	CHECK_INT(append_n(log, 4, 200), 197);
	first = evk_log_first(log);
	CHECK(first > 2);
	CHECK(first < 200);
	CHECK_INT(evk_log_next(log), 201);
	/* Records of ~80 bytes plus headers: the ring of 1 KiB keeps some. */
	CHECK((200 - first + 1) * 80 <= 1024);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), EVK_LOG_GAP);
	CHECK_INT(seq, first - 2);
	CHECK_INT(evk_log_cursor_pos(cur), first);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, first);
	evk_log_cursor_close(cur);
	CHECK_INT(evk_log_cursor_open(log, 2, &cur, &err), 0);
	CHECK_INT(evk_log_cursor_pos(cur), 2);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), EVK_LOG_GAP);
	CHECK_INT(seq, first - 2);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, first);
	evk_log_cursor_close(cur);
	CHECK_INT(read_check(log, 0), 201 - first);
	evk_log_close(log);
}

TEST(mem_wraps_many_times)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_log_cursor *cur;
	struct evk_err err = EVK_ERR_ZERO;
	const char *p;
	char want[256];
	size_t len, wn;
	uint64_t seq;
	int i, rc, bad = 0;

	o.retain_bytes = 1000; /* not a multiple of the record sizes */
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_cursor_open(log, 0, &cur, &err), 0);
	/* A cursor that keeps up never sees a gap, across many wraps. */
	for (i = 1; i <= 2000; i++) {
		CHECK_INT(append_n(log, i, i), 1);
		rc = evk_log_cursor_next(cur, &p, &len, &seq, &err);
		wn = record(want, sizeof want, i);
		if (rc != 1 || seq != (uint64_t)i || len != wn ||
		    memcmp(p, want, wn))
			bad++;
		CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 0);
	}
	CHECK_INT(bad, 0);
	evk_log_cursor_close(cur);
	CHECK_INT(read_check(log, 0), 2001 - (int)evk_log_first(log));
	evk_log_close(log);
}

TEST(mem_record_too_large)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_log_cursor *cur;
	struct evk_err err = EVK_ERR_ZERO;
	const char *p;
	size_t len;
	uint64_t seq;
	char big[600];

	o.retain_bytes = 512;
	memset(big, 'x', sizeof big);
	big[0] = '{';
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 2), 2);
	CHECK_INT(evk_log_append(log, big, sizeof big, T0, NULL, &err),
	    EVK_EINVAL);
	CHECK(strstr(err.msg, "larger than the in-memory log") != NULL);
	CHECK_INT(evk_log_next(log), 3);
	CHECK_INT(read_check(log, 0), 2);
	/* One that fills the whole ring drops all the others; a cursor
	 * that was at the end reads it. */
	CHECK_INT(evk_log_cursor_open(log, 3, &cur, &err), 0);
	CHECK_INT(evk_log_append(log, big, 512 - 16, T0, NULL, &err), 0);
	CHECK_INT(evk_log_first(log), 3);
	CHECK_INT(evk_log_next(log), 4);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 3);
	CHECK_MEM(p, len, big, 512 - 16);
	CHECK_INT(append_n(log, 4, 4), 1);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 4);
	evk_log_cursor_close(cur);
	evk_log_close(log);

	o.retain_bytes = 10;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), EVK_EINVAL);
	CHECK(log == NULL);
}

TEST(mem_long_records)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_log_cursor *cur;
	struct evk_err err = EVK_ERR_ZERO;
	size_t n = 300 * 1024, len;
	char *big = malloc(n);
	const char *p;
	uint64_t seq;

	memset(big, 'y', n);
	o.retain_bytes = 1 << 20;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_cursor_open(log, 0, &cur, &err), 0);
	CHECK_INT(evk_log_append(log, big, n, T0, NULL, &err), 0);
	big[0] = 'z';
	CHECK_INT(evk_log_append(log, big, n - 1, T0, NULL, &err), 0);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(len, n);
	CHECK(p[0] == 'y' && p[n - 1] == 'y');
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(len, n - 1);
	CHECK(p[0] == 'z');
	evk_log_cursor_close(cur);
	evk_log_close(log);
	free(big);
}

TEST(mem_seek_time_and_age)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_err err = EVK_ERR_ZERO;

	o.retain_age_ns = 10 * NS;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_seek_time(log, T0), 1);
	CHECK_INT(append_n(log, 1, 30), 30);
	CHECK_INT(evk_log_seek_time(log, 0), 1);
	CHECK_INT(evk_log_seek_time(log, T0 + 5 * NS), 5);
	CHECK_INT(evk_log_seek_time(log, T0 + 5 * NS + 1), 6);
	CHECK_INT(evk_log_seek_time(log, T0 + 30 * NS), 30);
	CHECK_INT(evk_log_seek_time(log, T0 + 31 * NS), 31);
	/* Older than 10 s at T0 + 30 s: records 1..19. */
	CHECK_INT(evk_log_retain(log, T0 + 30 * NS), 19);
	CHECK_INT(evk_log_first(log), 20);
	CHECK_INT(evk_log_seek_time(log, 0), 20);
	CHECK_INT(read_check(log, 0), 11);
	CHECK_INT(evk_log_retain(log, T0 + 100 * NS), 11);
	CHECK_INT(evk_log_first(log), 31);
	CHECK_INT(evk_log_next(log), 31);
	CHECK_INT(append_n(log, 31, 31), 1);
	CHECK_INT(read_check(log, 0), 1);
	evk_log_close(log);
}

TEST(mem_cursor_at_end_sees_appends)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_log_cursor *cur;
	struct evk_err err = EVK_ERR_ZERO;
	const char *p;
	size_t len;
	uint64_t seq;

	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 2), 2);
	CHECK_INT(evk_log_cursor_open(log, 99, &cur, &err), 0);
	CHECK_INT(evk_log_cursor_pos(cur), 3);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 0);
	CHECK_INT(append_n(log, 3, 3), 1);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 3);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 0);
	evk_log_cursor_close(cur);
	evk_log_close(log);
}

TEST(append_refuses_what_recovery_would_cut)
{
	struct evk_log_opts o = {0};
	struct evk_log *log;
	struct evk_err err = EVK_ERR_ZERO;
	char *dir = new_dir();
	int pass;

	for (pass = 0; pass < 2; pass++) {
		o.dir = pass ? dir : NULL;
		CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
		CHECK_INT(evk_log_append(log, "{}\n{}", 5, T0, NULL, &err),
		    EVK_EINVAL);
		CHECK_INT(evk_log_append(log, "{\"a\":\0}", 7, T0, NULL, &err),
		    EVK_EINVAL);
		CHECK_INT(evk_log_append(log, "", 0, T0, NULL, &err),
		    EVK_EINVAL);
		CHECK_INT(evk_log_next(log), 1);
		evk_log_close(log);
	}
	CHECK_INT(file_size(path_in(dir, SEG1)), 0);
	done_dir(dir);
}

/* --- disk: basics ----------------------------------------------------------- */

TEST(disk_new_log)
{
	struct evk_log_opts o = {0};
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	char sub[256];
	struct stat st;

	snprintf(sub, sizeof sub, "%s/log", dir);
	log = open_log(sub, 0, &rec, &err);
	CHECK(log != NULL);
	CHECK_INT(rec.segments, 0);
	CHECK_INT(rec.records, 0);
	CHECK_INT(rec.indexes_rebuilt, 0);
	CHECK_STR(rec.damaged, "");
	CHECK_INT(evk_log_first(log), 1);
	CHECK_INT(evk_log_next(log), 1);
	CHECK(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK(
	    stat(path_in(sub, SEG1), &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(exists(path_in(sub, seg(1, ".index"))));
	CHECK_INT(read_check(log, 0), 0);
	evk_log_close(log);
	/* An empty directory reopens as the same empty log. */
	log = open_log(sub, 0, &rec, &err);
	CHECK_INT(rec.segments, 1);
	CHECK_INT(evk_log_next(log), 1);
	evk_log_close(log);
	/* Made and synced with its parent, a trailing slash or not. */
	snprintf(sub, sizeof sub, "%s/synced/", dir);
	o.dir = sub;
	o.fsync = EVK_FSYNC_ALWAYS;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 1), 1);
	evk_log_close(log);
	CHECK(exists(path_in(dir, "synced/" SEG1)));
	done_dir(dir);
}

TEST(disk_open_errors)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log = (struct evk_log *)&o;

	o.dir = "/nonexistent/evk/log";
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), EVK_EIO);
	CHECK(log == NULL);
	CHECK(strstr(err.msg, "mkdir /nonexistent/evk/log") != NULL);
	o.dir = "";
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), EVK_EINVAL);
	o.dir = NULL;
	o.fsync = (enum evk_fsync)7;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), EVK_EINVAL);
	CHECK_INT(evk_log_open(NULL, &log, NULL, &err), EVK_EINVAL);
	evk_log_close(NULL);
	evk_log_cursor_close(NULL);
}

TEST(disk_append_read_back)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir(), want[256];
	size_t n = 0, i, at = 0;
	char *data;

	log = open_log(dir, 0, NULL, &err);
	CHECK_INT(append_n(log, 1, 100), 100);
	CHECK_INT(evk_log_next(log), 101);
	CHECK_INT(read_check(log, 0), 100);
	CHECK_INT(read_check(log, 1), 100);
	CHECK_INT(read_check(log, 42), 59);
	evk_log_close(log);
	/* The segment is plain NDJSON: the records, each with "\n". */
	data = t_slurp(path_in(dir, SEG1), &n);
	CHECK(data != NULL);
	for (i = 1; data != NULL && i <= 100; i++) {
		size_t wn = record(want, sizeof want, (int)i);
		want[wn++] = '\n';
		CHECK(at + wn <= n && memcmp(data + at, want, wn) == 0);
		at += wn;
	}
	CHECK_INT(at, n);
	CHECK_INT(n, 7000);
	free(data);
	done_dir(dir);
}

TEST(disk_rolls_segments)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	uint64_t base, total = 0;
	long long sz;

	/* Records are 70 bytes with their newline: three fit in 256. */
	log = open_log(dir, 256, NULL, &err);
	CHECK_INT(append_n(log, 1, 30), 30);
	CHECK_INT(read_check(log, 0), 30);
	evk_log_close(log);
	CHECK_INT(count_files(dir, ".ndjson"), 10);
	CHECK_INT(count_files(dir, ".index"), 10);
	for (base = 1; base <= 30; base += 3) {
		sz = file_size(path_in(dir, seg(base, ".ndjson")));
		CHECK(sz > 0 && sz <= 256);
		total += (uint64_t)sz;
		CHECK_INT(sz, 210);
		/* One record a second: an entry for each. */
		CHECK_INT(file_size(path_in(dir, seg(base, ".index"))), 72);
	}
	log = open_log(dir, 256, &rec, &err);
	CHECK_INT(rec.segments, 10);
	CHECK_INT(rec.records, 30);
	CHECK_INT(rec.indexes_rebuilt, 0);
	CHECK_INT(rec.torn_bytes, 0);
	CHECK_INT(evk_log_next(log), 31);
	CHECK_INT(append_n(log, 31, 40), 10);
	CHECK_INT(read_check(log, 0), 40);
	CHECK_INT(read_check(log, 29), 12);
	evk_log_close(log);
	CHECK(exists(path_in(dir, seg(31, ".ndjson"))));
	CHECK(exists(path_in(dir, seg(40, ".ndjson"))));
	CHECK(total > 0);
	done_dir(dir);
}

TEST(disk_reopen_continues_numbering)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	uint64_t seq = 0;
	char buf[256];
	size_t n;
	int i;

	for (i = 0; i < 5; i++) {
		log = open_log(dir, 1024, NULL, &err);
		CHECK_INT(evk_log_first(log), 1);
		CHECK_INT(evk_log_next(log), (uint64_t)i * 7 + 1);
		n = record(buf, sizeof buf, i * 7 + 1);
		CHECK_INT(evk_log_append(log, buf, n, T0 + (i * 7 + 1) * NS,
		              &seq, &err),
		    0);
		CHECK_INT(seq, (uint64_t)i * 7 + 1);
		CHECK_INT(append_n(log, i * 7 + 2, i * 7 + 7), 6);
		evk_log_close(log);
	}
	log = open_log(dir, 1024, NULL, &err);
	CHECK_INT(read_check(log, 0), 35);
	evk_log_close(log);
	done_dir(dir);
}

TEST(disk_record_bigger_than_segment)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	struct evk_log_cursor *cur;
	char *dir = new_dir();
	size_t n = 200 * 1024, len;
	char *big = malloc(n);
	const char *p;
	uint64_t seq;

	memset(big, 'b', n);
	log = open_log(dir, 100, NULL, &err);
	/* Alone in the first segment, though bigger than a segment. */
	CHECK_INT(evk_log_append(log, big, n, T0, &seq, &err), 0);
	CHECK_INT(seq, 1);
	CHECK_INT(append_n(log, 2, 2), 1);
	CHECK_INT(evk_log_append(log, big, n - 1, T0, &seq, &err), 0);
	CHECK_INT(seq, 3);
	CHECK_INT(append_n(log, 4, 4), 1);
	CHECK_INT(file_size(path_in(dir, seg(1, ".ndjson"))), (long long)n + 1);
	CHECK(file_size(path_in(dir, seg(2, ".ndjson"))) < 100);
	CHECK_INT(file_size(path_in(dir, seg(3, ".ndjson"))), (long long)n);
	CHECK(exists(path_in(dir, seg(4, ".ndjson"))));
	CHECK_INT(evk_log_cursor_open(log, 0, &cur, &err), 0);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(len, n);
	CHECK(p[0] == 'b' && p[n - 1] == 'b');
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 2);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(len, n - 1);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 4);
	evk_log_cursor_close(cur);
	evk_log_close(log);
	free(big);
	done_dir(dir);
}

TEST(disk_cursor_positions_through_index)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	struct evk_log_cursor *cur;
	char *dir = new_dir(), want[256];
	const char *p;
	size_t len, wn;
	uint64_t seq, k;
	int bad = 0;

	o.dir = dir;
	o.segment_bytes = 2000;
	o.index_every = 200;
	o.fsync = EVK_FSYNC_NEVER;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	/* Every record in the same second: entries by bytes only. */
	for (k = 1; k <= 120; k++) {
		wn = record(want, sizeof want, (int)k);
		CHECK_INT(evk_log_append(log, want, wn, T0, NULL, &err), 0);
	}
	for (k = 1; k <= 121; k++) {
		CHECK_INT(evk_log_cursor_open(log, k, &cur, &err), 0);
		if (evk_log_cursor_next(cur, &p, &len, &seq, &err) !=
		    (k <= 120 ? 1 : 0))
			bad++;
		wn = record(want, sizeof want, (int)k);
		if (k <= 120 && (seq != k || len != wn || memcmp(p, want, wn)))
			bad++;
		evk_log_cursor_close(cur);
	}
	CHECK_INT(bad, 0);
	evk_log_close(log);
	/* About one entry per 200 bytes. */
	CHECK(file_size(path_in(dir, seg(1, ".index"))) >= 24 * 5);
	done_dir(dir);
}

TEST(disk_cursor_at_end_sees_appends)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	struct evk_log_cursor *cur;
	char *dir = new_dir();
	const char *p;
	size_t len;
	uint64_t seq;
	int i;

	log = open_log(dir, 300, NULL, &err);
	CHECK_INT(evk_log_cursor_open(log, 0, &cur, &err), 0);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 0);
	/* Through several rolls, one record at a time. */
	for (i = 1; i <= 20; i++) {
		CHECK_INT(append_n(log, i, i), 1);
		CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
		CHECK_INT(seq, i);
		CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 0);
		CHECK_INT(evk_log_cursor_pos(cur), i + 1);
	}
	evk_log_cursor_close(cur);
	evk_log_close(log);
	done_dir(dir);
}

TEST(disk_seek_time)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir(), buf[256];
	size_t n;
	uint64_t r;
	int i;

	log = open_log(dir, 400, NULL, &err);
	CHECK_INT(evk_log_seek_time(log, T0), 1);
	/* One record a second: each has an entry, answers are exact. */
	CHECK_INT(append_n(log, 1, 40), 40);
	CHECK_INT(evk_log_seek_time(log, 0), 1);
	CHECK_INT(evk_log_seek_time(log, T0 + 1 * NS), 1);
	CHECK_INT(evk_log_seek_time(log, T0 + 1 * NS + 1), 2);
	CHECK_INT(evk_log_seek_time(log, T0 + 17 * NS), 17);
	CHECK_INT(evk_log_seek_time(log, T0 + 17 * NS - 1), 17);
	CHECK_INT(evk_log_seek_time(log, T0 + 40 * NS), 40);
	CHECK_INT(evk_log_seek_time(log, T0 + 41 * NS), 41);
	/* Ten records within a second: only the first has an entry; a time
	 * among them may answer earlier than exact, never later. */
	for (i = 41; i <= 50; i++) {
		n = record(buf, sizeof buf, i);
		CHECK_INT(evk_log_append(log, buf, n,
		              T0 + 41 * NS + (i - 41) * (NS / 20), NULL, &err),
		    0);
	}
	r = evk_log_seek_time(log, T0 + 41 * NS + 5 * (NS / 20));
	CHECK(r >= 42 && r <= 46);
	CHECK_INT(evk_log_seek_time(log, T0 + 43 * NS), 51);
	evk_log_close(log);
	/* The same after a reopen, from the index files. */
	log = open_log(dir, 400, NULL, &err);
	CHECK_INT(evk_log_seek_time(log, T0 + 17 * NS), 17);
	CHECK_INT(evk_log_seek_time(log, T0 + 43 * NS), 51);
	evk_log_close(log);
	done_dir(dir);
}

/* --- fsync policies ------------------------------------------------------ */

TEST(fsync_policies_durable)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();

	o.dir = dir;
	o.segment_bytes = 300;
	o.fsync = EVK_FSYNC_ALWAYS;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_durable(log), 1);
	CHECK_INT(append_n(log, 1, 5), 5);
	CHECK_INT(evk_log_durable(log), 6);
	evk_log_close(log);

	o.fsync = EVK_FSYNC_BATCH;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_durable(log), 6); /* what was there is synced */
	CHECK_INT(append_n(log, 6, 6), 1); /* segment 5 has 5, 6 */
	CHECK_INT(evk_log_durable(log), 6);
	CHECK_INT(evk_log_sync(log, &err), 0);
	CHECK_INT(evk_log_durable(log), 7);
	CHECK_INT(append_n(log, 7, 8), 2); /* segment 5 is full */
	CHECK_INT(evk_log_durable(log), 7);
	/* Across a roll, it all waits for a sync. */
	CHECK_INT(append_n(log, 9, 9), 1);
	CHECK(exists(path_in(dir, seg(9, ".ndjson"))));
	CHECK_INT(evk_log_durable(log), 7);
	CHECK_INT(evk_log_sync(log, &err), 0);
	CHECK_INT(evk_log_durable(log), 10);
	/* Two rolls before a sync. */
	CHECK_INT(append_n(log, 10, 17), 8); /* segments 13 and 17 */
	CHECK(exists(path_in(dir, seg(17, ".ndjson"))));
	CHECK_INT(evk_log_durable(log), 10);
	CHECK_INT(evk_log_sync(log, &err), 0);
	CHECK_INT(evk_log_durable(log), 18);
	CHECK_INT(evk_log_sync(log, &err), 0);
	evk_log_close(log);

	o.fsync = EVK_FSYNC_NEVER;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 18, 20), 3);
	CHECK_INT(evk_log_durable(log), 21);
	CHECK_INT(evk_log_sync(log, &err), 0);
	evk_log_close(log);

	log = open_log(dir, 300, NULL, &err);
	CHECK_INT(read_check(log, 0), 20);
	evk_log_close(log);
	done_dir(dir);
}

/* A sync in three steps, the log appending and rolling in between. */
TEST(sync_job_in_steps)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log_syncjob j;
	struct evk_log *log;
	char *dir = new_dir();

	o.dir = dir;
	o.segment_bytes = 300;
	o.fsync = EVK_FSYNC_BATCH;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	/* Nothing to sync: an empty job. */
	CHECK_INT(evk_log_sync_begin(log, &j, &err), 0);
	evk_log_sync_end(log, &j, 0);
	CHECK_INT(append_n(log, 1, 3), 3);
	CHECK_INT(evk_log_sync_begin(log, &j, &err), 1);
	CHECK_INT(j.upto, 4);
	/* Appends during the job, across a roll: not covered by it. */
	CHECK_INT(append_n(log, 4, 9), 6);
	CHECK(exists(path_in(dir, seg(5, ".ndjson"))));
	CHECK_INT(evk_log_sync_run(&j, &err), 0);
	CHECK_INT(evk_log_durable(log), 1);
	evk_log_sync_end(log, &j, 0);
	CHECK_INT(evk_log_durable(log), 4);
	CHECK_INT(j.fd, -1);
	/* The next job has the full segment and the new one. */
	CHECK_INT(evk_log_sync_begin(log, &j, &err), 1);
	CHECK(j.oldfd >= 0 && j.fd >= 0 && j.dirfd >= 0);
	CHECK_INT(evk_log_sync_run(&j, &err), 0);
	evk_log_sync_end(log, &j, 0);
	CHECK_INT(evk_log_durable(log), 10);
	CHECK_INT(evk_log_sync_begin(log, &j, &err), 0);
	evk_log_sync_end(log, &j, 0);
	/* After a failed sync, every later one fails. */
	CHECK_INT(append_n(log, 10, 10), 1);
	CHECK_INT(evk_log_sync_begin(log, &j, &err), 1);
	j.sys_errno = EIO;
	evk_log_sync_end(log, &j, EVK_EIO);
	CHECK_INT(evk_log_durable(log), 10);
	CHECK_INT(evk_log_sync(log, &err), EVK_EIO);
	CHECK(strstr(err.msg, "an earlier sync failed") != NULL);
	evk_log_close(log);

	/* In memory there is never anything to sync. */
	o.dir = NULL;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 2), 2);
	CHECK_INT(evk_log_sync_begin(log, &j, &err), 0);
	evk_log_sync_end(log, &j, 0);
	CHECK_INT(evk_log_durable(log), 3);
	evk_log_close(log);
	done_dir(dir);
}

/* --- append failures --------------------------------------------------- */

/* RLIMIT_FSIZE makes a write past the limit stop short, then fail with
 * EFBIG, even for root: the write path of a full disk. */
static int
limit_fsize(rlim_t n, struct rlimit *old)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, old) < 0)
		return -1;
	rl = *old;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_FSIZE, &rl);
}

TEST(append_failure_rolls_back)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log_recovery rec;
	struct evk_log *log;
	struct rlimit old;
	char *dir = new_dir(), buf[256];
	long long size;
	uint64_t seq = 0;
	size_t n;
	int rc;

	signal(SIGXFSZ, SIG_IGN);
	log = open_log(dir, 0, NULL, &err);
	CHECK_INT(append_n(log, 1, 3), 3);
	size = file_size(path_in(dir, SEG1));
	n = record(buf, sizeof buf, 4);
	/* Five bytes fit: a short write, then EFBIG. */
	CHECK(limit_fsize((rlim_t)size + 5, &old) == 0);
	rc = evk_log_append(log, buf, n, T0 + 4 * NS, &seq, &err);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK_INT(rc, EVK_EIO);
	CHECK_INT(err.code, EVK_EIO);
	CHECK_INT(err.sys_errno, EFBIG);
	CHECK(strstr(err.msg, "write ") != NULL);
	CHECK(strstr(err.msg, SEG1) != NULL);
	CHECK_INT(file_size(path_in(dir, SEG1)), size);
	CHECK_INT(evk_log_next(log), 4);
	CHECK_INT(read_check(log, 0), 3);
	/* And the log goes on. */
	CHECK_INT(evk_log_append(log, buf, n, T0 + 4 * NS, &seq, &err), 0);
	CHECK_INT(seq, 4);
	CHECK_INT(read_check(log, 0), 4);
	evk_log_close(log);
	log = open_log(dir, 0, &rec, &err);
	CHECK_INT(rec.torn_bytes, 0);
	CHECK_INT(rec.records, 4);
	evk_log_close(log);
	signal(SIGXFSZ, SIG_DFL);
	done_dir(dir);
}

TEST(append_failure_at_roll_removes_new_segment)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	struct rlimit old;
	char *dir = new_dir(), buf[256];
	uint64_t seq = 0;
	size_t n;
	int rc;

	signal(SIGXFSZ, SIG_IGN);
	log = open_log(dir, 100, NULL, &err);
	CHECK_INT(append_n(log, 1, 1), 1);
	n = record(buf, sizeof buf, 2);
	/* The record goes to a new segment, which can take 10 bytes. */
	CHECK(limit_fsize(10, &old) == 0);
	rc = evk_log_append(log, buf, n, T0 + 2 * NS, &seq, &err);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK_INT(rc, EVK_EIO);
	CHECK_INT(err.sys_errno, EFBIG);
	CHECK(!exists(path_in(dir, seg(2, ".ndjson"))));
	CHECK(!exists(path_in(dir, seg(2, ".index"))));
	CHECK_INT(evk_log_next(log), 2);
	CHECK_INT(append_n(log, 2, 3), 2);
	CHECK_INT(read_check(log, 0), 3);
	evk_log_close(log);
	CHECK(exists(path_in(dir, seg(2, ".ndjson"))));
	signal(SIGXFSZ, SIG_DFL);
	done_dir(dir);
}

/* --- recovery -------------------------------------------------------------- */

/* Makes a log of records 1..n in dir; segment_bytes 0: one segment. */
static void
make_log(const char *dir, uint64_t segment_bytes, int n)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log = open_log(dir, segment_bytes, NULL, &err);

	CHECK(log != NULL);
	if (log == NULL)
		return;
	CHECK_INT(append_n(log, 1, n), n);
	evk_log_close(log);
}

/* Checks a damaged tail was cut: `tail` is in the damaged file `name`,
 * the records 1..n are there and the numbering goes on after them. */
static void
check_cut(const char *dir, const char *tail, size_t tlen, const char *name,
    int n)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	size_t dlen;
	char *d;
	uint64_t seq = 0;

	log = open_log(dir, 0, &rec, &err);
	CHECK(log != NULL);
	if (log == NULL)
		return;
	CHECK_INT(rec.torn_bytes, tlen);
	CHECK_STR(rec.damaged, name);
	CHECK_INT(rec.records, n);
	d = t_slurp(path_in(dir, name), &dlen);
	CHECK(d != NULL);
	if (d != NULL)
		CHECK_MEM(d, dlen, tail, tlen);
	free(d);
	CHECK_INT(evk_log_next(log), n + 1);
	CHECK_INT(read_check(log, 0), n);
	CHECK_INT(append_n(log, n + 1, n + 1), 1);
	CHECK_INT(read_check(log, 0), n + 1);
	(void)seq;
	evk_log_close(log);
	/* Clean now. */
	log = open_log(dir, 0, &rec, &err);
	CHECK_INT(rec.torn_bytes, 0);
	CHECK_STR(rec.damaged, "");
	CHECK_INT(rec.records, n + 1);
	evk_log_close(log);
}

TEST(recover_torn_tail)
{
	static const char tail[] = "{\"id\":6,\"da";
	char *dir = new_dir();

	make_log(dir, 0, 5);
	append_file(path_in(dir, SEG1), tail, sizeof tail - 1);
	check_cut(dir, tail, sizeof tail - 1, SEG1 ".damaged-1", 5);
	/* A second torn tail is kept in the next free name. */
	append_file(path_in(dir, SEG1), tail, sizeof tail - 1);
	check_cut(dir, tail, sizeof tail - 1, SEG1 ".damaged-2", 6);
	CHECK(exists(path_in(dir, SEG1 ".damaged-1")));
	done_dir(dir);
}

TEST(recover_unterminated_valid_record)
{
	static const char tail[] = "{\"id\":6}";
	char *dir = new_dir();

	make_log(dir, 0, 5);
	append_file(path_in(dir, SEG1), tail, sizeof tail - 1);
	check_cut(dir, tail, sizeof tail - 1, SEG1 ".damaged-1", 5);
	done_dir(dir);
}

TEST(recover_garbage_line)
{
	/* Everything from the first bad line goes, good lines after too:
	 * their numbers would be uncertain. */
	static const char tail[] = "not json\n{\"id\":7}\n";
	char *dir = new_dir();

	make_log(dir, 0, 4);
	append_file(path_in(dir, SEG1), tail, sizeof tail - 1);
	check_cut(dir, tail, sizeof tail - 1, SEG1 ".damaged-1", 4);
	done_dir(dir);
}

TEST(recover_nul_bytes)
{
	static const char tail[] = "{\"a\":\"x\0y\"}\n\0\0\0\0";
	char *dir = new_dir();

	make_log(dir, 0, 3);
	append_file(path_in(dir, SEG1), tail, sizeof tail - 1);
	check_cut(dir, tail, sizeof tail - 1, SEG1 ".damaged-1", 3);
	done_dir(dir);
}

TEST(recover_non_object_lines)
{
	static const char *tails[] = {"[1,2]\n", "\n", "{\"a\":1,\"a\":2}\n",
	    "{\"a\":1}{\"b\":2}\n", "\"str\"\n", "{\"a\":\"\xff\"}\n"};
	size_t i;

	for (i = 0; i < sizeof tails / sizeof *tails; i++) {
		char *dir = new_dir();
		make_log(dir, 0, 2);
		append_file(path_in(dir, SEG1), tails[i], strlen(tails[i]));
		check_cut(dir, tails[i], strlen(tails[i]), SEG1 ".damaged-1",
		    2);
		done_dir(dir);
	}
}

TEST(recover_deep_record_kept)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	char deep[1200];
	size_t n = 0;
	int i;

	/* Deeper than the default JSON limit, valid: not damage. */
	deep[n++] = '{';
	memcpy(deep + n, "\"a\":", 4);
	n += 4;
	for (i = 0; i < 500; i++)
		deep[n++] = '[';
	for (i = 0; i < 500; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	log = open_log(dir, 0, NULL, &err);
	CHECK_INT(evk_log_append(log, deep, n, T0, NULL, &err), 0);
	evk_log_close(log);
	log = open_log(dir, 0, &rec, &err);
	CHECK_INT(rec.torn_bytes, 0);
	CHECK_INT(evk_log_next(log), 2);
	evk_log_close(log);
	done_dir(dir);
}

TEST(recover_empty_last_segment_kept)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	const char *last;
	long long sz;

	make_log(dir, 256, 10); /* segments 1, 4, 7, 10 */
	last = path_in(dir, seg(10, ".ndjson"));
	sz = file_size(last);
	CHECK(sz > 0);
	CHECK(truncate(last, sz - 1) == 0); /* its only record, torn */
	log = open_log(dir, 256, &rec, &err);
	CHECK(log != NULL);
	CHECK_INT(rec.torn_bytes, sz - 1);
	CHECK_INT(rec.records, 9);
	CHECK_INT(evk_log_next(log), 10);
	CHECK_INT(file_size(last), 0);
	CHECK_INT(read_check(log, 0), 9);
	CHECK_INT(append_n(log, 10, 11), 2);
	CHECK_INT(read_check(log, 0), 11);
	evk_log_close(log);
	CHECK_INT(count_files(dir, ".ndjson"), 4);
	done_dir(dir);
}

TEST(recover_everything_cut)
{
	static const char junk[] = "garbage with no newline";
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();

	make_log(dir, 0, 0);
	append_file(path_in(dir, SEG1), junk, sizeof junk - 1);
	log = open_log(dir, 0, &rec, &err);
	CHECK_INT(rec.torn_bytes, sizeof junk - 1);
	CHECK_INT(rec.records, 0);
	CHECK_INT(evk_log_next(log), 1);
	CHECK_INT(append_n(log, 1, 1), 1);
	CHECK_INT(read_check(log, 0), 1);
	evk_log_close(log);
	done_dir(dir);
}

TEST(recover_earlier_torn_segment_refused)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	const char *first = path_in(dir, SEG1);

	make_log(dir, 256, 6);
	CHECK(truncate(first, file_size(first) - 1) == 0);
	log = open_log(dir, 256, NULL, &err);
	CHECK(log == NULL);
	CHECK_INT(err.code, EVK_EINVAL);
	CHECK(strstr(err.msg, "no newline") != NULL);
	CHECK(strstr(err.msg, SEG1) != NULL);
	done_dir(dir);
}

TEST(recover_gap_in_segment_names_refused)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	long long before;

	make_log(dir, 256, 9); /* segments 1, 4, 7 */
	CHECK(unlink(path_in(dir, seg(4, ".ndjson"))) == 0);
	append_file(path_in(dir, seg(7, ".ndjson")), "junk", 4);
	before = file_size(path_in(dir, seg(7, ".ndjson")));
	log = open_log(dir, 256, NULL, &err);
	CHECK(log == NULL);
	CHECK_INT(err.code, EVK_EINVAL);
	CHECK(strstr(err.msg, "inconsistent segments") != NULL);
	CHECK(strstr(err.msg, SEG1 " holds 3 records") != NULL);
	CHECK(strstr(err.msg, seg(4, ".ndjson")) != NULL);
	CHECK(strstr(err.msg, seg(7, ".ndjson")) != NULL);
	/* Refused before anything was changed. */
	CHECK_INT(file_size(path_in(dir, seg(7, ".ndjson"))), before);
	CHECK_INT(count_files(dir, ".damaged-1"), 0);
	done_dir(dir);
}

TEST(recover_overlapping_segments_refused)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();

	make_log(dir, 256, 6); /* segments 1, 4 */
	/* One record too many in the first segment. */
	append_file(path_in(dir, SEG1), "{\"x\":1}\n", 8);
	log = open_log(dir, 256, NULL, &err);
	CHECK(log == NULL);
	CHECK_INT(err.code, EVK_EINVAL);
	CHECK(strstr(err.msg, "holds 4 records") != NULL);
	done_dir(dir);
}

TEST(recover_ignores_unrelated_files)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir(), sub[256];

	make_log(dir, 256, 5);
	write_file(path_in(dir, "notes.txt"), "hello", 5);
	write_file(path_in(dir, "0001.ndjson"), "x", 1);
	write_file(path_in(dir, SEG1 ".bak"), "x", 1);
	write_file(path_in(dir, "0000000000000000000x.ndjson"), "x", 1);
	write_file(path_in(dir, "000000000000000000001.ndjson"), "x", 1);
	write_file(path_in(dir, seg(1000, ".index")), "x", 1);
	snprintf(sub, sizeof sub, "%s/subdir", dir);
	CHECK(mkdir(sub, 0700) == 0);
	log = open_log(dir, 256, &rec, &err);
	CHECK(log != NULL);
	CHECK_INT(rec.segments, 2);
	CHECK_INT(rec.records, 5);
	CHECK_INT(rec.torn_bytes, 0);
	CHECK_INT(read_check(log, 0), 5);
	evk_log_close(log);
	done_dir(dir);
}

TEST(recover_segment_zero_refused)
{
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();

	write_file(path_in(dir, seg(0, ".ndjson")), "", 0);
	log = open_log(dir, 0, NULL, &err);
	CHECK(log == NULL);
	CHECK_INT(err.code, EVK_EINVAL);
	CHECK(strstr(err.msg, "out of range") != NULL);
	done_dir(dir);
}

TEST(recover_log_not_starting_at_one)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir(), buf[256];
	size_t n = record(buf, sizeof buf, 100);

	/* As retention leaves it. */
	buf[n] = '\n';
	write_file(path_in(dir, seg(100, ".ndjson")), buf, n + 1);
	log = open_log(dir, 0, &rec, &err);
	CHECK(log != NULL);
	CHECK_INT(rec.indexes_rebuilt, 1);
	CHECK_INT(evk_log_first(log), 100);
	CHECK_INT(evk_log_next(log), 101);
	CHECK_INT(read_check(log, 0), 1);
	CHECK_INT(read_check(log, 100), 1);
	evk_log_close(log);
	done_dir(dir);
}

/* --- indexes ----------------------------------------------------------------- */

/* Builds a log of 40 records in segments of 910 bytes (13 records each),
 * with an entry per record (one a second), then applies `damage` and
 * checks the reopen rebuilt `want` indexes identical to the originals. */
static void
check_rebuild(void (*damage)(const char *dir), int want)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	char *orig[4] = {NULL}, *now;
	size_t olen[4], nlen;
	uint64_t bases[4] = {1, 14, 27, 40};
	int i;

	make_log(dir, 910, 40);
	CHECK_INT(count_files(dir, ".ndjson"), 4);
	for (i = 0; i < 4; i++)
		orig[i] =
		    t_slurp(path_in(dir, seg(bases[i], ".index")), &olen[i]);
	damage(dir);
	log = open_log(dir, 910, &rec, &err);
	CHECK(log != NULL);
	if (log == NULL)
		goto out;
	CHECK_INT(rec.indexes_rebuilt, want);
	CHECK_INT(rec.torn_bytes, 0);
	CHECK_INT(rec.records, 40);
	for (i = 1; i <= 41; i++)
		CHECK_INT(read_check(log, (uint64_t)i), 41 - i);
	CHECK_INT(evk_log_seek_time(log, T0 + 20 * NS), 20);
	CHECK_INT(evk_log_seek_time(log, T0 + 20 * NS - 1), 20);
	CHECK_INT(append_n(log, 41, 41), 1);
	CHECK_INT(read_check(log, 0), 41);
	evk_log_close(log);
	for (i = 0; i < 4; i++) {
		now = t_slurp(path_in(dir, seg(bases[i], ".index")), &nlen);
		CHECK(now != NULL && orig[i] != NULL);
		/* The last index got an entry for record 41. */
		if (now != NULL && orig[i] != NULL)
			CHECK_MEM(now, i < 3 ? nlen : olen[i], orig[i],
			    olen[i]);
		free(now);
	}
out:
	for (i = 0; i < 4; i++)
		free(orig[i]);
	done_dir(dir);
}

static void
no_damage(const char *dir)
{
	(void)dir;
}

static void
delete_indexes(const char *dir)
{
	CHECK(unlink(path_in(dir, seg(1, ".index"))) == 0);
	CHECK(unlink(path_in(dir, seg(40, ".index"))) == 0);
}

static void
truncate_index(const char *dir)
{
	CHECK(truncate(path_in(dir, seg(14, ".index")), 5) == 0);
}

static void
empty_index(const char *dir)
{
	CHECK(truncate(path_in(dir, seg(14, ".index")), 0) == 0);
}

/* Entry k of an index file: seq, time, offset. */
static void
poke_entry(const char *path, int k, int field, uint64_t v)
{
	unsigned char b[8];
	int fd = open(path, O_WRONLY), i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	if (fd < 0 || pwrite(fd, b, 8, k * 24 + field * 8) != 8) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void
wrong_offset(const char *dir)
{
	poke_entry(path_in(dir, seg(14, ".index")), 3, 2, 5);
}

static void
offset_mid_line(const char *dir)
{
	/* Entry 2 of segment 1 moved one byte into its line. */
	char *ix;
	size_t n;
	uint64_t off = 0;
	int i;

	ix = t_slurp(path_in(dir, seg(1, ".index")), &n);
	CHECK(ix != NULL && n >= 72);
	for (i = 7; ix != NULL && i >= 0; i--)
		off = off << 8 | (unsigned char)ix[2 * 24 + 16 + i];
	free(ix);
	poke_entry(path_in(dir, seg(1, ".index")), 2, 2, off + 1);
}

static void
offset_past_end(const char *dir)
{
	poke_entry(path_in(dir, seg(27, ".index")), 12, 2, 1u << 20);
}

static void
wrong_seq(const char *dir)
{
	poke_entry(path_in(dir, seg(27, ".index")), 5, 0, 9999);
}

static void
first_entry_missing(const char *dir)
{
	/* Entries 1.. of segment 14's index, without entry 0. */
	char *ix;
	size_t n;

	ix = t_slurp(path_in(dir, seg(14, ".index")), &n);
	CHECK(ix != NULL && n > 24);
	if (ix != NULL && n > 24)
		write_file(path_in(dir, seg(14, ".index")), ix + 24, n - 24);
	free(ix);
}

static void
garbage_entries(const char *dir)
{
	append_file(path_in(dir, seg(40, ".index")), "0123456789abcdefghijklmn",
	    24);
}

TEST(index_clean_reopen_not_rebuilt)
{
	check_rebuild(no_damage, 0);
}

TEST(index_missing_rebuilt)
{
	check_rebuild(delete_indexes, 2);
}

TEST(index_truncated_rebuilt)
{
	check_rebuild(truncate_index, 1);
}

TEST(index_emptied_rebuilt)
{
	check_rebuild(empty_index, 1);
}

TEST(index_wrong_offset_rebuilt)
{
	check_rebuild(wrong_offset, 1);
}

TEST(index_offset_mid_line_rebuilt)
{
	check_rebuild(offset_mid_line, 1);
}

TEST(index_offset_past_end_rebuilt)
{
	check_rebuild(offset_past_end, 1);
}

TEST(index_wrong_seq_rebuilt)
{
	check_rebuild(wrong_seq, 1);
}

TEST(index_first_entry_missing_rebuilt)
{
	check_rebuild(first_entry_missing, 1);
}

TEST(index_garbage_entries_rebuilt)
{
	check_rebuild(garbage_entries, 1);
}

TEST(index_stale_after_cut_rebuilt)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	long long sz;

	make_log(dir, 0, 10);
	/* Record 10 torn: its index entry points past the cut. */
	sz = file_size(path_in(dir, SEG1));
	CHECK(truncate(path_in(dir, SEG1), sz - 3) == 0);
	log = open_log(dir, 0, &rec, &err);
	CHECK_INT(rec.records, 9);
	CHECK_INT(rec.indexes_rebuilt, 1);
	CHECK_INT(file_size(path_in(dir, seg(1, ".index"))), 9 * 24);
	CHECK_INT(evk_log_seek_time(log, T0 + 10 * NS), 10);
	CHECK_INT(read_check(log, 9), 1);
	evk_log_close(log);
	done_dir(dir);
}

TEST(index_rebuilt_without_times)
{
	struct evk_log_recovery rec;
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();
	char *ix;
	size_t n;

	/* Records without "time" (or with a bad one) take the time of the
	 * entry before, 0 at first: entries by bytes only. */
	static const char recs[] =
	    "{\"a\":1}\n{\"time\":\"yesterday\"}\n{\"time\":5}\n";

	write_file(path_in(dir, SEG1), recs, sizeof recs - 1);
	log = open_log(dir, 0, &rec, &err);
	CHECK(log != NULL);
	CHECK_INT(rec.indexes_rebuilt, 1);
	CHECK_INT(rec.records, 3);
	CHECK_INT(evk_log_seek_time(log, 0), 1);
	evk_log_close(log);
	ix = t_slurp(path_in(dir, seg(1, ".index")), &n);
	CHECK_INT(n, 24);
	free(ix);
	done_dir(dir);
}

/* --- retention ----------------------------------------------------------- */

TEST(retain_bytes_and_slow_cursor)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	struct evk_log_cursor *slow, *late;
	char *dir = new_dir();
	const char *p;
	size_t len;
	uint64_t seq, first;

	o.dir = dir;
	o.segment_bytes = 256; /* 3 records a segment */
	o.retain_bytes = 700;
	o.fsync = EVK_FSYNC_BATCH;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 30), 30);
	CHECK_INT(evk_log_cursor_open(log, 0, &slow, &err), 0);
	CHECK_INT(evk_log_cursor_next(slow, &p, &len, &seq, &err), 1);
	CHECK_INT(evk_log_cursor_next(slow, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 2);
	/* ~225 bytes a segment: three fit in 700. */
	CHECK_INT(evk_log_retain(log, T0), 21);
	first = evk_log_first(log);
	CHECK_INT(first, 22);
	CHECK(!exists(path_in(dir, SEG1)));
	CHECK(!exists(path_in(dir, seg(1, ".index"))));
	CHECK(exists(path_in(dir, seg(22, ".ndjson"))));
	CHECK_INT(evk_log_retain(log, T0), 0);
	CHECK_INT(evk_log_cursor_next(slow, &p, &len, &seq, &err), EVK_LOG_GAP);
	CHECK_INT(seq, 22 - 3);
	CHECK_INT(evk_log_cursor_next(slow, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 22);
	evk_log_cursor_close(slow);
	/* A cursor opened before the first record kept. */
	CHECK_INT(evk_log_cursor_open(log, 5, &late, &err), 0);
	CHECK_INT(evk_log_cursor_next(late, &p, &len, &seq, &err), EVK_LOG_GAP);
	CHECK_INT(seq, 17);
	evk_log_cursor_close(late);
	CHECK_INT(read_check(log, 0), 9);
	CHECK_INT(read_check(log, 22), 9);
	evk_log_close(log);
	/* The log reopens from its first kept segment. */
	o.retain_bytes = 1;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(evk_log_first(log), 22);
	CHECK_INT(evk_log_next(log), 31);
	/* Never the active segment. */
	CHECK_INT(evk_log_retain(log, T0), 6);
	CHECK_INT(evk_log_first(log), 28);
	CHECK_INT(read_check(log, 0), 3);
	CHECK_INT(count_files(dir, ".ndjson"), 1);
	evk_log_close(log);
	done_dir(dir);
}

TEST(retain_keeps_active_even_if_huge)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	char *dir = new_dir();

	o.dir = dir;
	o.retain_bytes = 10;
	o.retain_age_ns = 1;
	o.fsync = EVK_FSYNC_NEVER;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 20), 20);
	CHECK_INT(evk_log_retain(log, T0 + 1000 * NS), 0);
	CHECK_INT(evk_log_first(log), 1);
	CHECK_INT(read_check(log, 0), 20);
	evk_log_close(log);
	done_dir(dir);
}

TEST(retain_age)
{
	struct evk_log_opts o = {0};
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	struct evk_log_cursor *cur;
	char *dir = new_dir();
	const char *p;
	size_t len;
	uint64_t seq;

	o.dir = dir;
	o.segment_bytes = 256; /* segments 1, 4, 7, ... 28 */
	o.retain_age_ns = 10 * NS;
	o.fsync = EVK_FSYNC_NEVER;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	CHECK_INT(append_n(log, 1, 30), 30);
	CHECK_INT(evk_log_cursor_open(log, 1, &cur, &err), 0);
	CHECK_INT(evk_log_retain(log, T0 + 5 * NS), 0);
	/* At T0 + 20 s the limit is T0 + 10 s: a segment goes when the next
	 * one started before that: 1..6 (segment 7 ends when 10 starts). */
	CHECK_INT(evk_log_retain(log, T0 + 20 * NS), 6);
	CHECK_INT(evk_log_first(log), 7);
	CHECK_INT(evk_log_retain(log, T0 + 21 * NS), 3);
	CHECK_INT(evk_log_first(log), 10);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), EVK_LOG_GAP);
	CHECK_INT(seq, 9);
	CHECK_INT(evk_log_cursor_next(cur, &p, &len, &seq, &err), 1);
	CHECK_INT(seq, 10);
	evk_log_cursor_close(cur);
	/* Far later: all but the active segment. */
	CHECK_INT(evk_log_retain(log, T0 + 1000 * NS), 18);
	CHECK_INT(evk_log_first(log), 28);
	CHECK_INT(evk_log_seek_time(log, 0), 28);
	CHECK_INT(read_check(log, 0), 3);
	evk_log_close(log);
	done_dir(dir);
}

/* --- randomized, against a model ------------------------------------------ */

/* The record with sequence number s: 1..300 letters, from s alone. */
static size_t
model_record(char *buf, uint64_t s)
{
	size_t n = 1 + (size_t)((s * 7919) % 300), j;

	for (j = 0; j < n; j++)
		buf[j] = (char)('a' + (s + j) % 26);
	return n;
}

/* Appends with random sizes, three cursors reading at random paces, and
 * (on disk) retention now and then: every record read must be the one
 * with its number, and every gap exactly what retention dropped. */
static void
random_run(const char *dir, int steps)
{
	struct evk_log_opts o = {0};
	struct evk_log_cursor *cur[3];
	struct evk_err err = EVK_ERR_ZERO;
	struct evk_log *log;
	uint64_t pos[3] = {0, 0, 0}, seq, s;
	char want[512];
	const char *p;
	size_t len, wn;
	int i, c, n, r, rc, bad = 0, gaps = 0, reads = 0;

	o.dir = dir;
	o.fsync = EVK_FSYNC_NEVER;
	o.segment_bytes = 700;
	o.retain_bytes = dir != NULL ? 3000 : 2048;
	o.index_every = 100;
	CHECK_INT(evk_log_open(&o, &log, NULL, &err), 0);
	t_rng_state = UINT64_C(0x9e3779b97f4a7c15);
	for (c = 0; c < 3; c++) {
		CHECK_INT(evk_log_cursor_open(log, 0, &cur[c], &err), 0);
		pos[c] = 1;
	}
	for (i = 0; i < steps; i++) {
		s = evk_log_next(log);
		wn = model_record(want, s);
		CHECK_INT(evk_log_append(log, want, wn, T0 + i, &seq, &err), 0);
		CHECK_INT(seq, s);
		if (dir != NULL && t_rng() % 8 == 0)
			evk_log_retain(log, T0 + i);
		for (c = 0; c < 3; c++) {
			/* Cursor 0 is slow, 1 keeps up on average, 2 is
			 * fast and mostly at the end. */
			n = c == 0 ? t_rng() % 3 == 0
			           : (int)(t_rng() % (3u * c));
			for (r = 0; r < n; r++) {
				rc = evk_log_cursor_next(cur[c], &p, &len, &seq,
				    &err);
				if (rc == 0) {
					bad += pos[c] != evk_log_next(log);
					break;
				}
				if (rc == EVK_LOG_GAP) {
					bad +=
					    seq != evk_log_first(log) - pos[c];
					pos[c] = evk_log_first(log);
					gaps++;
					continue;
				}
				wn = model_record(want, pos[c]);
				if (rc != 1 || seq != pos[c] || len != wn ||
				    memcmp(p, want, wn) != 0)
					bad++;
				pos[c]++;
				reads++;
			}
			bad += evk_log_cursor_pos(cur[c]) != pos[c];
		}
		/* A fresh cursor anywhere in what is kept. */
		if (i % 50 == 0) {
			struct evk_log_cursor *x;
			uint64_t first = evk_log_first(log);
			uint64_t at =
			    first + t_rng() % (evk_log_next(log) - first);
			CHECK_INT(evk_log_cursor_open(log, at, &x, &err), 0);
			rc = evk_log_cursor_next(x, &p, &len, &seq, &err);
			wn = model_record(want, at);
			if (rc != 1 || seq != at || len != wn ||
			    memcmp(p, want, wn))
				bad++;
			evk_log_cursor_close(x);
		}
	}
	CHECK_INT(bad, 0);
	CHECK(gaps > 0);
	CHECK(reads > steps);
	printf("# %d reads, %d gaps\n", reads, gaps);
	for (c = 0; c < 3; c++)
		evk_log_cursor_close(cur[c]);
	evk_log_close(log);
}

TEST(mem_random_against_model)
{
	random_run(NULL, 5000);
}

TEST(disk_random_against_model)
{
	char *dir = new_dir();

	random_run(dir, 1500);
	done_dir(dir);
}

int
main(void)
{
	RUN(mem_append_read);
	RUN(mem_ring_drops_oldest_and_gap);
	RUN(mem_wraps_many_times);
	RUN(mem_record_too_large);
	RUN(mem_long_records);
	RUN(mem_seek_time_and_age);
	RUN(mem_cursor_at_end_sees_appends);
	RUN(append_refuses_what_recovery_would_cut);
	RUN(disk_new_log);
	RUN(disk_open_errors);
	RUN(disk_append_read_back);
	RUN(disk_rolls_segments);
	RUN(disk_reopen_continues_numbering);
	RUN(disk_record_bigger_than_segment);
	RUN(disk_cursor_positions_through_index);
	RUN(disk_cursor_at_end_sees_appends);
	RUN(disk_seek_time);
	RUN(fsync_policies_durable);
	RUN(sync_job_in_steps);
	RUN(append_failure_rolls_back);
	RUN(append_failure_at_roll_removes_new_segment);
	RUN(recover_torn_tail);
	RUN(recover_unterminated_valid_record);
	RUN(recover_garbage_line);
	RUN(recover_nul_bytes);
	RUN(recover_non_object_lines);
	RUN(recover_deep_record_kept);
	RUN(recover_empty_last_segment_kept);
	RUN(recover_everything_cut);
	RUN(recover_earlier_torn_segment_refused);
	RUN(recover_gap_in_segment_names_refused);
	RUN(recover_overlapping_segments_refused);
	RUN(recover_ignores_unrelated_files);
	RUN(recover_segment_zero_refused);
	RUN(recover_log_not_starting_at_one);
	RUN(index_clean_reopen_not_rebuilt);
	RUN(index_missing_rebuilt);
	RUN(index_truncated_rebuilt);
	RUN(index_emptied_rebuilt);
	RUN(index_wrong_offset_rebuilt);
	RUN(index_offset_mid_line_rebuilt);
	RUN(index_offset_past_end_rebuilt);
	RUN(index_wrong_seq_rebuilt);
	RUN(index_first_entry_missing_rebuilt);
	RUN(index_garbage_entries_rebuilt);
	RUN(index_stale_after_cut_rebuilt);
	RUN(index_rebuilt_without_times);
	RUN(retain_bytes_and_slow_cursor);
	RUN(retain_keeps_active_even_if_huge);
	RUN(retain_age);
	RUN(mem_random_against_model);
	RUN(disk_random_against_model);
	return t_done();
}
