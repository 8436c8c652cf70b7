/*
 * lib/log.c - the bus's log (evkit/log.h): segment files with sparse
 * indexes on disk, or one ring buffer in memory, behind the same API.
 *
 * On disk.  The directory holds segments named by their first sequence
 * number; only the last one (the active segment) is ever written, through
 * one fd opened O_APPEND.  A record goes out in one writev() of the line
 * and its "\n"; if that fails part way the segment is truncated back, so
 * a failed append leaves no trace.  Everything else is derived from the
 * segments when the log opens: record counts (by counting newlines, which
 * also checks that the names agree with each other), the sparse indexes
 * (checked entry by entry against the line starts, rebuilt when they do
 * not match), and the end of the last segment, where a crash can leave a
 * torn or garbled tail: that tail is moved aside into a ".damaged-<n>"
 * file rather than deleted, so that nothing is ever silently lost.
 *
 * The sparse index entries of every segment are kept in memory: they are
 * small (24 bytes per index_every bytes or per second of records) and
 * they make cursor positioning and evk_log_seek_time() cheap without a
 * read of the index files.  Index files are never synced: a stale one is
 * found and rebuilt at the next open.
 *
 * Cursors read segments with pread() into a buffer of their own, never
 * past the size the log knows was appended, so they see complete records
 * only and never a record whose append is being rolled back.  A cursor
 * whose position went below the first record kept (retention deleted its
 * segment) reports EVK_LOG_GAP with the number of records it missed.
 *
 * In memory.  One allocation of retain_bytes holds records back to back,
 * each behind a 16-byte header (length, flags, time), padded to 8 bytes.
 * A record never wraps: when it does not fit before the end of the buffer
 * a wrap marker is left there (or nothing, when fewer than 16 bytes are
 * left) and the record starts at 0.  The oldest records are dropped until
 * the new one fits.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "evkit/json.h"
#include "evkit/log.h"
#include "evkit/time.h"
#include "internal.h"

#define NS INT64_C(1000000000)

/* Segment names: 20 digits (UINT64_MAX has 20) and an extension. */
#define NAME_DIGITS 20
#define SEG_EXT ".ndjson"
#define IX_EXT ".index"
#define NAME_BUF 64

/* An index entry on disk: seq, time, offset, little-endian. */
#define IX_ENTRY 24

/* Reads of segments, at open and by cursors, start with this much. */
#define READ_BLOCK (64 * 1024)

/* Records are checked at recovery with the default JSON rules except
 * the depth: the publisher's limit may have been higher than ours, and a
 * deep but valid record is not damage. */
#define RECOVER_MAX_DEPTH 1024

/* The in-memory ring: a header before each record. */
#define RHDR 16
#define RING_WRAP 1u
#define RING_MIN 64

struct ixent {
	uint64_t seq;
	int64_t time;
	uint64_t off;
};

struct seg {
	uint64_t base; /* sequence number of its first record */
	uint64_t count; /* records */
	uint64_t size; /* bytes, all complete records */
	struct ixent *ix;
	size_t nix, capix;
};

struct rhdr {
	uint32_t len;
	uint32_t flags;
	int64_t time;
};

struct evk_log {
	struct evk_log_opts o; /* defaults filled in; o.dir is `dir` */
	char *dir;
	uint64_t first, next, durable;

	/* disk */
	int dirfd;
	int fd; /* active segment: O_RDWR | O_APPEND */
	int oldfd; /* BATCH: the segment before, until the next sync */
	int ixfd; /* its index: O_WRONLY | O_APPEND */
	uint64_t ixsize; /* bytes in that index file */
	struct seg *segs; /* oldest first; the last one is active */
	size_t nsegs, capsegs;
	uint64_t bytes; /* in all segments */
	int dir_dirty; /* a segment was created since the last dir fsync */
	int broken; /* a failed append could not be undone */
	int sync_errno; /* a sync failed: all later ones fail */

	/* memory */
	unsigned char *ring;
	size_t cap;
	size_t head; /* the oldest record (when any) */
	size_t tail; /* where the next one goes, before any wrap */
};

struct evk_log_cursor {
	struct evk_log *log;
	uint64_t pos; /* the record to read next; below first: a gap */
	char *buf; /* disk: a window of the segment; memory: a copy */
	size_t cap;

	/* disk: the segment being read; buf holds [woff, woff + wlen) */
	int fd;
	uint64_t segbase;
	uint64_t off; /* offset of record offseq (<= pos) */
	uint64_t offseq;
	uint64_t woff;
	size_t wlen;

	/* memory: where record pos is (or the wrap before it) */
	size_t roff;
	int have_roff;
};

/* --- small helpers ------------------------------------------------------ */

static void
seg_name(char *buf, uint64_t base, const char *ext)
{
	snprintf(buf, NAME_BUF, "%020" PRIu64 "%s", base, ext);
}

static void
put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* t >= base + 1 s, without overflow. */
static int
a_second_after(int64_t t, int64_t base)
{
	return base <= INT64_MAX - NS && t >= base + NS;
}

/* Reads up to n bytes at `off`, retrying short reads and EINTR.  Returns
 * the bytes read (fewer only at the end of the file) or -1 (errno). */
static ssize_t
pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Writes all of p[0..n).  Returns 0 or -1 (errno). */
static int
write_full(int fd, const void *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO; /* no progress, no reason */
			return -1;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 8;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			return EVK_ENOMEM;
		n *= 2;
	}
	if ((q = realloc(*p, n * size)) == NULL)
		return EVK_ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Whether the record at `off` (time `t`) gets an index entry: the first
 * of a segment, then the first after index_every bytes or one second
 * since the last entry.  Records without an entry are therefore stored
 * less than a second after the entry before them, which seek_time uses. */
static int
need_entry(const struct seg *s, uint64_t off, int64_t t, size_t every)
{
	const struct ixent *e;

	if (s->nix == 0)
		return 1;
	e = &s->ix[s->nix - 1];
	return off - e->off >= every || a_second_after(t, e->time);
}

/* The last entry at or before `seq`, or NULL. */
static const struct ixent *
ix_floor(const struct seg *s, uint64_t seq)
{
	size_t lo = 0, hi = s->nix, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->ix[mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? &s->ix[lo - 1] : NULL;
}

/* The segment holding `seq`, first <= seq < next. */
static size_t
seg_find(const struct evk_log *l, uint64_t seq)
{
	size_t lo = 0, hi = l->nsegs, mid;

	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (l->segs[mid].base <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Creates segment `base` and its (empty) index.  The segment must not
 * exist: its number is new, and a stray file by that name is refused
 * rather than appended to. */
static int
create_seg(struct evk_log *l, uint64_t base, int *fd, int *ixfd,
    struct evk_err *err)
{
	char name[NAME_BUF], ixname[NAME_BUF];

	seg_name(name, base, SEG_EXT);
	seg_name(ixname, base, IX_EXT);
	*fd = openat(l->dirfd, name,
	    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd < 0)
		return evk__err_sys(err, errno, "create %s/%s", l->dir, name);
	*ixfd = openat(l->dirfd, ixname,
	    O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*ixfd < 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		unlinkat(l->dirfd, name, 0);
		return evk__err_sys(err, e, "create %s/%s", l->dir, ixname);
	}
	return 0;
}

/* Undoes create_seg(). */
static void
remove_seg(struct evk_log *l, uint64_t base, int fd, int ixfd)
{
	char name[NAME_BUF];

	close(fd);
	close(ixfd);
	seg_name(name, base, SEG_EXT);
	unlinkat(l->dirfd, name, 0);
	seg_name(name, base, IX_EXT);
	unlinkat(l->dirfd, name, 0);
}

/* --- recovery: reading segments line by line ---------------------------- */

/*
 * A line reader over fd[0..limit), with its buffer kept across segments.
 * Unlike evk_reader it has no line limit: a record is as long as it was
 * when appended, and the buffer grows to the longest one.
 */
struct liner {
	int fd;
	uint64_t limit;
	char *buf;
	size_t cap;
	size_t start, end, scan; /* unread [start, end); no "\n" before scan */
	uint64_t boff; /* file offset of buf[0] */
	uint64_t roff; /* next offset to read */
	const char *dir, *name; /* for messages */
};

static void
liner_reset(struct liner *r, int fd, uint64_t limit, const char *dir,
    const char *name)
{
	r->dir = dir;
	r->name = name;
	r->fd = fd;
	r->limit = limit;
	r->start = r->end = r->scan = 0;
	r->boff = r->roff = 0;
}

/* Hands out the next line at file offset *off; *complete says whether a
 * "\n" ended it.  Returns 1, 0 at the end, or EVK_EIO/EVK_ENOMEM. */
static int
liner_next(struct liner *r, const char **p, size_t *n, uint64_t *off,
    int *complete, struct evk_err *err)
{
	const char *nl;
	ssize_t got;
	size_t want;
	int rc;

	for (;;) {
		nl = r->scan < r->end
		    ? memchr(r->buf + r->scan, '\n', r->end - r->scan)
		    : NULL;
		if (nl != NULL) {
			*p = r->buf + r->start;
			*n = (size_t)(nl - *p);
			*off = r->boff + r->start;
			*complete = 1;
			r->start = r->scan = (size_t)(nl - r->buf) + 1;
			return 1;
		}
		r->scan = r->end;
		if (r->roff >= r->limit) {
			if (r->start == r->end)
				return 0;
			*p = r->buf + r->start;
			*n = r->end - r->start;
			*off = r->boff + r->start;
			*complete = 0;
			r->start = r->scan = r->end;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->boff += r->start;
			r->end -= r->start;
			r->scan -= r->start;
			r->start = 0;
		}
		if (r->cap - r->end < READ_BLOCK / 2 &&
		    (rc = grow((void **)&r->buf, &r->cap, r->end + READ_BLOCK,
		         1)) < 0)
			return evk__err(err, rc, 0, "out of memory");
		want = r->cap - r->end;
		if (want > r->limit - r->roff)
			want = (size_t)(r->limit - r->roff);
		if ((got = pread_full(r->fd, r->buf + r->end, want, r->roff)) <
		    0)
			return evk__err_sys(err, errno, "read %s/%s", r->dir,
			    r->name);
		if ((size_t)got < want)
			r->limit = r->roff + (uint64_t)got; /* it shrank */
		r->end += (size_t)got;
		r->roff += (uint64_t)got;
	}
}

struct scanctx {
	struct liner r;
	struct evk_json_checker *jc;
	struct evk_buf tmp;
};

/* The time of a record from its "time" attribute, or `dflt`. */
static int64_t
record_time(struct scanctx *sc, const char *p, size_t n, int64_t dflt)
{
	struct evk_span obj = {p, n}, v;
	enum evk_json_type type;
	struct evk_time t;
	int64_t ns;

	if (evk_json_check(sc->jc, p, n, &type, NULL) < 0 ||
	    type != EVK_JSON_OBJECT || !evk_json_get(obj, "time", 4, &v) ||
	    evk_json_type_of(v) != EVK_JSON_STRING)
		return dflt;
	evk_buf_reset(&sc->tmp);
	if (evk_json_unescape(v, &sc->tmp) < 0 ||
	    evk_time_parse(sc->tmp.p, sc->tmp.len, &t, NULL) < 0)
		return dflt;
	/* Times in ns reach the years 1678..2262 only: beyond, saturated. */
	ns = evk_time_ns(&t);
	return ns == INT64_MAX || ns == INT64_MIN ? dflt : ns;
}

/* Loads index `base` for a segment of `segsize` bytes.  *state: 1 loaded,
 * 0 missing, -1 unusable (size not a multiple of an entry, or more
 * entries than the segment could have). */
static int
ix_load(struct evk_log *l, uint64_t base, uint64_t segsize, struct ixent **ix,
    size_t *nix, int *state, struct evk_err *err)
{
	char name[NAME_BUF];
	unsigned char *raw = NULL;
	struct stat st;
	ssize_t got;
	size_t i, n;
	int fd;

	*ix = NULL;
	*nix = 0;
	seg_name(name, base, IX_EXT);
	if ((fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC)) < 0) {
		*state = 0;
		if (errno == ENOENT)
			return 0;
		return evk__err_sys(err, errno, "open %s/%s", l->dir, name);
	}
	*state = -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return evk__err_sys(err, errno, "stat %s/%s", l->dir, name);
	}
	/* Each entry is at a distinct line start, and a line has at least
	 * its "\n": more entries than segment bytes is garbage. */
	if (st.st_size % IX_ENTRY != 0 ||
	    (uint64_t)st.st_size / IX_ENTRY > segsize) {
		close(fd);
		return 0;
	}
	n = (size_t)st.st_size / IX_ENTRY;
	if (n > 0 &&
	    ((raw = malloc(n * IX_ENTRY)) == NULL ||
	        (*ix = malloc(n * sizeof **ix)) == NULL)) {
		free(raw);
		close(fd);
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	}
	got = n > 0 ? pread_full(fd, raw, n * IX_ENTRY, 0) : 0;
	if (got < 0) {
		int e = errno;
		free(raw);
		free(*ix);
		*ix = NULL;
		close(fd);
		return evk__err_sys(err, e, "read %s/%s", l->dir, name);
	}
	close(fd);
	if ((size_t)got != n * IX_ENTRY) {
		free(raw);
		free(*ix);
		*ix = NULL;
		return 0;
	}
	for (i = 0; i < n; i++) {
		(*ix)[i].seq = get_le64(raw + i * IX_ENTRY);
		(*ix)[i].time = (int64_t)get_le64(raw + i * IX_ENTRY + 8);
		(*ix)[i].off = get_le64(raw + i * IX_ENTRY + 16);
	}
	free(raw);
	*nix = n;
	*state = 1;
	return 0;
}

/* Writes the whole index of `s` (after a rebuild). */
static int
ix_write(struct evk_log *l, const struct seg *s, struct evk_err *err)
{
	unsigned char chunk[IX_ENTRY * 170];
	char name[NAME_BUF];
	size_t i = 0, k;
	int fd;

	seg_name(name, s->base, IX_EXT);
	fd = openat(l->dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd < 0)
		return evk__err_sys(err, errno, "create %s/%s", l->dir, name);
	while (i < s->nix) {
		for (k = 0; k < sizeof chunk / IX_ENTRY && i < s->nix;
		     k++, i++) {
			put_le64(chunk + k * IX_ENTRY, s->ix[i].seq);
			put_le64(chunk + k * IX_ENTRY + 8,
			    (uint64_t)s->ix[i].time);
			put_le64(chunk + k * IX_ENTRY + 16, s->ix[i].off);
		}
		if (write_full(fd, chunk, k * IX_ENTRY) < 0) {
			int e = errno;
			close(fd);
			return evk__err_sys(err, e, "write %s/%s", l->dir,
			    name);
		}
	}
	if (close(fd) < 0)
		return evk__err_sys(err, errno, "close %s/%s", l->dir, name);
	return 0;
}

/*
 * Counts the records of segment `s` (validating each when `validate`:
 * the last segment), and checks the loaded index against the line starts
 * on the way: each entry must sit at a line start and name the sequence
 * number of that line.  Sets *cut to the offset of the first bad line
 * (the size when none) and *ix_ok.
 */
static int
scan_seg(struct evk_log *l, struct scanctx *sc, int fd, const char *name,
    struct seg *s, uint64_t size, int validate, const struct ixent *ix,
    size_t nix, int ix_loaded, uint64_t *cut, int *ix_ok, struct evk_err *err)
{
	enum evk_json_type type;
	const char *p;
	uint64_t off;
	size_t n, k = 0;
	int complete, rc, ok = ix_loaded;

	liner_reset(&sc->r, fd, size, l->dir, name);
	s->count = 0;
	*cut = size;
	while ((rc = liner_next(&sc->r, &p, &n, &off, &complete, err)) > 0) {
		if (validate) {
			if (!complete || n == 0 || memchr(p, '\0', n) != NULL ||
			    evk_json_check(sc->jc, p, n, &type, NULL) < 0 ||
			    type != EVK_JSON_OBJECT) {
				*cut = off;
				break;
			}
		} else if (!complete) {
			/* Only the last segment is ever written to: an
			 * earlier one cut short was changed by hand. */
			return evk__err(err, EVK_EINVAL, 0,
			    "%s/%s: last record has no newline, but only the "
			    "last segment can be torn",
			    l->dir, name);
		}
		if (ok && k < nix && ix[k].off < off)
			ok = 0;
		else if (ok && k < nix && ix[k].off == off) {
			if (ix[k].seq != s->base + s->count)
				ok = 0;
			k++;
		}
		s->count++;
	}
	if (rc < 0)
		return rc;
	/* All entries matched, the first at the segment's first record; an
	 * entry at or past *cut is stale. */
	*ix_ok = ok && k == nix &&
	    (s->count == 0 ? nix == 0 : nix > 0 && ix[0].off == 0);
	return 0;
}

/* Rebuilds the index entries of `s` from its records, as appends would
 * have made them, with each record's "time" attribute as its time. */
static int
rebuild_ix(struct evk_log *l, struct scanctx *sc, int fd, struct seg *s,
    struct evk_err *err)
{
	char name[NAME_BUF];
	const char *p;
	uint64_t off, seq = s->base;
	int64_t t;
	size_t n;
	int complete, rc;

	s->nix = 0;
	seg_name(name, s->base, SEG_EXT);
	liner_reset(&sc->r, fd, s->size, l->dir, name);
	while ((rc = liner_next(&sc->r, &p, &n, &off, &complete, err)) > 0) {
		t = record_time(sc, p, n, s->nix ? s->ix[s->nix - 1].time : 0);
		if (need_entry(s, off, t, l->o.index_every)) {
			if (grow((void **)&s->ix, &s->capix, s->nix + 1,
			        sizeof *s->ix) < 0)
				return evk__err(err, EVK_ENOMEM, 0,
				    "out of memory");
			s->ix[s->nix].seq = seq;
			s->ix[s->nix].time = t;
			s->ix[s->nix].off = off;
			s->nix++;
		}
		seq++;
	}
	return rc;
}

/* Copies fd[cut..size) into a new "<segment>.damaged-<n>" file, synced
 * (unless EVK_FSYNC_NEVER) before the segment is cut. */
static int
keep_damaged(struct evk_log *l, struct scanctx *sc, int fd, const char *name,
    uint64_t cut, uint64_t size, struct evk_log_recovery *rec,
    struct evk_err *err)
{
	char dname[NAME_BUF + 32];
	uint64_t off = cut;
	ssize_t got;
	size_t want;
	unsigned n;
	int dfd = -1, e;

	for (n = 1; n < 1000000; n++) {
		snprintf(dname, sizeof dname, "%s.damaged-%u", name, n);
		dfd = openat(l->dirfd, dname,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (dfd >= 0 || errno != EEXIST)
			break;
	}
	if (dfd < 0)
		return evk__err_sys(err, errno, "create %s/%s", l->dir, dname);
	/* The liner's buffer is free now and at least READ_BLOCK big. */
	while (off < size) {
		want = sc->r.cap;
		if (want > size - off)
			want = (size_t)(size - off);
		if ((got = pread_full(fd, sc->r.buf, want, off)) < 0 ||
		    (size_t)got != want) {
			e = got < 0 ? errno : EIO;
			close(dfd);
			return evk__err_sys(err, e, "read %s/%s", l->dir, name);
		}
		if (write_full(dfd, sc->r.buf, want) < 0)
			goto fail;
		off += want;
	}
	if (l->o.fsync != EVK_FSYNC_NEVER && fsync(dfd) < 0)
		goto fail;
	if (close(dfd) < 0) {
		dfd = -1;
		goto fail;
	}
	snprintf(rec->damaged, sizeof rec->damaged, "%s", dname);
	return 0;
fail:
	e = errno;
	if (dfd >= 0)
		close(dfd);
	return evk__err_sys(err, e, "write %s/%s", l->dir, dname);
}

/* Recovers segment i: counts it, cuts a damaged tail (last segment
 * only), and loads or rebuilds its index. */
static int
recover_seg(struct evk_log *l, struct scanctx *sc, size_t i,
    struct evk_log_recovery *rec, struct evk_err *err)
{
	struct seg *s = &l->segs[i];
	int last = i + 1 == l->nsegs;
	char name[NAME_BUF];
	struct ixent *ix = NULL;
	struct stat st;
	uint64_t cut;
	size_t nix;
	int fd, state, ix_ok = 0, rc;

	seg_name(name, s->base, SEG_EXT);
	fd = openat(l->dirfd, name,
	    (last ? O_RDWR | O_APPEND : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return evk__err_sys(err, errno, "open %s/%s", l->dir, name);
	if (last)
		l->fd = fd; /* closed with the log on error */
	if (fstat(fd, &st) < 0) {
		rc = evk__err_sys(err, errno, "stat %s/%s", l->dir, name);
		goto out;
	}
	if ((rc = ix_load(l, s->base, (uint64_t)st.st_size, &ix, &nix, &state,
	         err)) < 0)
		goto out;
	if ((rc = scan_seg(l, sc, fd, name, s, (uint64_t)st.st_size, last, ix,
	         nix, state == 1, &cut, &ix_ok, err)) < 0)
		goto out;
	s->size = cut;
	/* The cut bytes are written (and synced) elsewhere before the
	 * segment is truncated: a crash in between leaves them twice, never
	 * nowhere. */
	if (cut < (uint64_t)st.st_size) {
		if ((rc = keep_damaged(l, sc, fd, name, cut,
		         (uint64_t)st.st_size, rec, err)) < 0)
			goto out;
		if (ftruncate(fd, (off_t)cut) < 0) {
			rc = evk__err_sys(err, errno, "truncate %s/%s", l->dir,
			    name);
			goto out;
		}
		rec->torn_bytes = (uint64_t)st.st_size - cut;
		l->dir_dirty = 1; /* the damaged file's entry */
	}
	if (ix_ok) {
		s->ix = ix;
		s->nix = s->capix = nix;
		ix = NULL;
	} else {
		if ((rc = rebuild_ix(l, sc, fd, s, err)) < 0 ||
		    (rc = ix_write(l, s, err)) < 0)
			goto out;
		/* A new, empty segment without an index file is what a
		 * crash right after a roll leaves: nothing was rebuilt. */
		if (state != 0 || s->count > 0)
			rec->indexes_rebuilt++;
	}
	/* What a previous process left in the page cache counts as durable
	 * from now on, so make it so. */
	if (l->o.fsync != EVK_FSYNC_NEVER && fdatasync(fd) < 0)
		rc = evk__err_sys(err, errno, "fdatasync %s/%s", l->dir, name);
	l->bytes += s->size;
	rec->records += s->count;
out:
	free(ix);
	if (!last)
		close(fd);
	return rc;
}

/* Parses a segment file name.  Returns 1 with *base, 0 for another file,
 * -1 for a segment name whose number is not usable (0 or too big). */
static int
parse_name(const char *name, uint64_t *base)
{
	uint64_t v = 0;
	unsigned d;
	int i;

	if (strlen(name) != NAME_DIGITS + strlen(SEG_EXT) ||
	    strcmp(name + NAME_DIGITS, SEG_EXT) != 0)
		return 0;
	for (i = 0; i < NAME_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*base = v;
	return v == 0 ? -1 : 1;
}

static int
cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

static int
list_segments(struct evk_log *l, struct evk_err *err)
{
	struct dirent *de;
	uint64_t base;
	DIR *d;
	int rc;

	if ((d = opendir(l->dir)) == NULL)
		return evk__err_sys(err, errno, "open %s", l->dir);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if ((rc = parse_name(de->d_name, &base)) == 0)
			continue;
		if (rc < 0) {
			rc = evk__err(err, EVK_EINVAL, 0,
			    "%s/%s: segment number out of range", l->dir,
			    de->d_name);
			closedir(d);
			return rc;
		}
		if (grow((void **)&l->segs, &l->capsegs, l->nsegs + 1,
		        sizeof *l->segs) < 0) {
			closedir(d);
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		}
		memset(&l->segs[l->nsegs], 0, sizeof *l->segs);
		l->segs[l->nsegs++].base = base;
	}
	if (errno != 0) {
		rc = evk__err_sys(err, errno, "read %s", l->dir);
		closedir(d);
		return rc;
	}
	closedir(d);
	if (l->nsegs > 1)
		qsort(l->segs, l->nsegs, sizeof *l->segs, cmp_seg);
	return 0;
}

/* Syncs the directory holding the log's (new) directory, so that the
 * log itself survives a crash, not only its files. */
static int
sync_parent(struct evk_log *l, struct evk_err *err)
{
	char *parent, *slash;
	int fd, rc = 0;

	if (l->o.fsync == EVK_FSYNC_NEVER)
		return 0;
	if ((parent = strdup(l->dir)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	/* "a/b/" names "a/b": trailing slashes are not a component. */
	slash = parent + strlen(parent);
	while (slash > parent + 1 && slash[-1] == '/')
		*--slash = '\0';
	if ((slash = strrchr(parent, '/')) == NULL)
		strcpy(parent, ".");
	else
		slash[slash == parent] = '\0';
	if ((fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) < 0)
		rc = evk__err_sys(err, errno, "fsync %s", parent);
	if (fd >= 0)
		close(fd);
	free(parent);
	return rc;
}

static int
disk_open(struct evk_log *l, struct evk_log_recovery *rec, struct evk_err *err)
{
	struct evk_json_opts jo = {RECOVER_MAX_DEPTH, 0};
	struct scanctx sc;
	char ixname[NAME_BUF], prev[NAME_BUF], name[NAME_BUF];
	struct seg *s;
	size_t i;
	int rc = 0;

	if (mkdir(l->dir, 0700) == 0) {
		if ((rc = sync_parent(l, err)) < 0)
			return rc;
	} else if (errno != EEXIST) {
		return evk__err_sys(err, errno, "mkdir %s", l->dir);
	}
	l->dirfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->dirfd < 0)
		return evk__err_sys(err, errno, "open %s", l->dir);
	if ((rc = list_segments(l, err)) < 0)
		return rc;
	rec->segments = l->nsegs;
	if (l->nsegs == 0) {
		/* A new log: its first segment says it starts at 1. */
		if ((rc = grow((void **)&l->segs, &l->capsegs, 1,
		         sizeof *l->segs)) < 0)
			return evk__err(err, rc, 0, "out of memory");
		memset(l->segs, 0, sizeof *l->segs);
		l->segs[0].base = 1;
		if ((rc = create_seg(l, 1, &l->fd, &l->ixfd, err)) < 0)
			return rc;
		l->nsegs = 1;
		l->dir_dirty = 1;
	} else {
		memset(&sc, 0, sizeof sc);
		if ((sc.jc = evk_json_checker_new(&jo)) == NULL)
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		for (i = 0; i < l->nsegs && rc == 0; i++) {
			s = &l->segs[i];
			/* Checked before the last segment is touched, so a
			 * log refused here is left as it was found. */
			if (i > 0 && s->base != s[-1].base + s[-1].count) {
				seg_name(prev, s[-1].base, SEG_EXT);
				seg_name(name, s->base, SEG_EXT);
				rc = evk__err(err, EVK_EINVAL, 0,
				    "%s: inconsistent segments: %s holds %" PRIu64
				    " records, so the next segment should be "
				    "%020" PRIu64 "%s, not %s",
				    l->dir, prev, s[-1].count,
				    s[-1].base + s[-1].count, SEG_EXT, name);
				break;
			}
			rc = recover_seg(l, &sc, i, rec, err);
		}
		free(sc.r.buf);
		evk_buf_free(&sc.tmp);
		evk_json_checker_free(sc.jc);
		if (rc < 0)
			return rc;
		s = &l->segs[l->nsegs - 1];
		seg_name(ixname, s->base, IX_EXT);
		l->ixfd = openat(l->dirfd, ixname,
		    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (l->ixfd < 0)
			return evk__err_sys(err, errno, "open %s/%s", l->dir,
			    ixname);
		l->ixsize = (uint64_t)s->nix * IX_ENTRY;
	}
	l->first = l->segs[0].base;
	s = &l->segs[l->nsegs - 1];
	l->next = s->base + s->count;
	if (l->o.fsync != EVK_FSYNC_NEVER) {
		if (fsync(l->dirfd) < 0)
			return evk__err_sys(err, errno, "fsync %s", l->dir);
		l->dir_dirty = 0;
	}
	l->durable = l->next;
	return 0;
}

/* --- disk: append, sync, retain ------------------------------------------ */

/* Writes the record and its "\n" at the end of `fd`, then syncs it with
 * EVK_FSYNC_ALWAYS.  On failure truncates fd back to `size` (its size
 * before) and returns -1 with errno; sets l->broken if even that fails. */
static int
write_record(struct evk_log *l, int fd, uint64_t size, const char *p,
    size_t len)
{
	struct iovec iov[2];
	size_t total = len + 1, done = 0;
	ssize_t w;
	int e;

	iov[0].iov_base = (void *)(uintptr_t)p;
	iov[0].iov_len = len;
	iov[1].iov_base = (void *)(uintptr_t) "\n";
	iov[1].iov_len = 1;
	while (done < total) {
		if (done == 0)
			w = writev(fd, iov, 2);
		else if (done < len)
			w = write(fd, p + done, len - done);
		else
			w = write(fd, "\n", 1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			errno = EIO; /* no progress, no reason */
		if (w <= 0)
			goto fail;
		/* A short write (a full disk, a file size limit) goes on
		 * from where it stopped: the next write says why. */
		done += (size_t)w;
	}
	if (l->o.fsync == EVK_FSYNC_ALWAYS && fdatasync(fd) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (ftruncate(fd, (off_t)size) < 0)
		l->broken = 1;
	errno = e;
	return -1;
}

/* Adds an index entry for the record just appended at `off`, when one is
 * due.  Room for it was reserved before the append.  A failed index write
 * is undone and otherwise ignored: the entry is kept in memory, and a
 * sparser index file is still a correct one. */
static void
add_entry(struct evk_log *l, struct seg *s, uint64_t seq, uint64_t off,
    int64_t t)
{
	unsigned char raw[IX_ENTRY];

	if (!need_entry(s, off, t, l->o.index_every))
		return;
	s->ix[s->nix].seq = seq;
	s->ix[s->nix].time = t;
	s->ix[s->nix].off = off;
	s->nix++;
	put_le64(raw, seq);
	put_le64(raw + 8, (uint64_t)t);
	put_le64(raw + 16, off);
	if (write_full(l->ixfd, raw, sizeof raw) == 0)
		l->ixsize += sizeof raw;
	else
		(void)!ftruncate(l->ixfd, (off_t)l->ixsize);
}

/*
 * A roll creates the next segment and writes the record there before the
 * log switches to it, so that a failure at any step removes the new files
 * and leaves the log as it was.  With EVK_FSYNC_BATCH the full segment
 * stays open until the next evk_log_sync() syncs it; only when a second
 * roll comes first is it synced here.
 */
static int
roll_append(struct evk_log *l, const char *p, size_t len, int64_t now_ns,
    struct evk_err *err)
{
	struct seg *s;
	char name[NAME_BUF];
	int fd, ixfd, e, rc;

	if (grow((void **)&l->segs, &l->capsegs, l->nsegs + 1,
	        sizeof *l->segs) < 0)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	s = &l->segs[l->nsegs];
	memset(s, 0, sizeof *s);
	s->base = l->next;
	if (grow((void **)&s->ix, &s->capix, 1, sizeof *s->ix) < 0)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	seg_name(name, s->base, SEG_EXT);
	if ((rc = create_seg(l, s->base, &fd, &ixfd, err)) < 0)
		goto undo_mem;
	if (l->oldfd >= 0 && fdatasync(l->oldfd) < 0) {
		e = errno;
		seg_name(name, l->segs[l->nsegs - 2].base, SEG_EXT);
		rc = evk__err_sys(err, e, "fdatasync %s/%s", l->dir, name);
		goto undo;
	}
	if (l->o.fsync == EVK_FSYNC_ALWAYS && fsync(l->dirfd) < 0) {
		rc = evk__err_sys(err, errno, "fsync %s", l->dir);
		goto undo;
	}
	if (write_record(l, fd, 0, p, len) < 0) {
		rc = evk__err_sys(err, errno, "write %s/%s", l->dir, name);
		goto undo;
	}
	if (l->oldfd >= 0)
		close(l->oldfd);
	l->oldfd = -1;
	if (l->o.fsync == EVK_FSYNC_BATCH && l->durable < l->next)
		l->oldfd = l->fd;
	else
		close(l->fd);
	close(l->ixfd);
	l->fd = fd;
	l->ixfd = ixfd;
	l->ixsize = 0;
	l->nsegs++;
	l->dir_dirty = l->o.fsync != EVK_FSYNC_ALWAYS;
	s->size = len + 1;
	s->count = 1;
	add_entry(l, s, l->next, 0, now_ns);
	return 0;
undo:
	/* write_record() left the new segment empty; it goes anyway. */
	l->broken = 0;
	remove_seg(l, s->base, fd, ixfd);
undo_mem:
	free(s->ix);
	s->ix = NULL;
	return rc;
}

static int
disk_append(struct evk_log *l, const char *p, size_t len, int64_t now_ns,
    struct evk_err *err)
{
	struct seg *s = &l->segs[l->nsegs - 1];
	char name[NAME_BUF];
	int rc;

	if (l->broken)
		return evk__err(err, EVK_EIO, 0,
		    "%s: an earlier failed append could not be undone; reopen "
		    "the log",
		    l->dir);
	/* Roll before the record that would pass segment_bytes, but never
	 * leave a segment empty: a bigger record gets one of its own. */
	if (s->size > 0 &&
	    (s->size >= l->o.segment_bytes ||
	        len + 1 > l->o.segment_bytes - s->size)) {
		if ((rc = roll_append(l, p, len, now_ns, err)) < 0)
			return rc;
	} else {
		if (grow((void **)&s->ix, &s->capix, s->nix + 1,
		        sizeof *s->ix) < 0)
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		if (write_record(l, l->fd, s->size, p, len) < 0) {
			int e = errno;
			seg_name(name, s->base, SEG_EXT);
			if (l->broken)
				return evk__err_sys(err, e,
				    "write %s/%s (and could not undo it)",
				    l->dir, name);
			return evk__err_sys(err, e, "write %s/%s", l->dir,
			    name);
		}
		add_entry(l, s, l->next, s->size, now_ns);
		s->size += len + 1;
		s->count++;
	}
	l->bytes += len + 1;
	l->next++;
	if (l->o.fsync != EVK_FSYNC_BATCH)
		l->durable = l->next;
	return 0;
}

/* Hands what awaits a sync to `j`: the full segment before (its fd moves
 * to j), a dup of the active one when records in it are not durable yet,
 * and a dup of the directory when a segment was made since its last
 * sync. */
static int
disk_sync_begin(struct evk_log *l, struct evk_log_syncjob *j,
    struct evk_err *err)
{
	if (l->o.fsync == EVK_FSYNC_NEVER)
		return 0;
	if (l->sync_errno != 0)
		return evk__err_sys(err, l->sync_errno,
		    "%s: an earlier sync failed, durability is lost; reopen "
		    "the log",
		    l->dir);
	if (l->durable < l->next &&
	    (j->fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return evk__err_sys(err, errno, "dup");
	if (l->dir_dirty &&
	    (j->dirfd = fcntl(l->dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		int e = errno;
		close(j->fd);
		j->fd = -1;
		return evk__err_sys(err, e, "dup");
	}
	if (l->oldfd >= 0) {
		j->oldfd = l->oldfd;
		j->oldbase = l->segs[l->nsegs - 2].base;
		l->oldfd = -1;
	}
	j->base = l->segs[l->nsegs - 1].base;
	l->dir_dirty = 0;
	return j->fd >= 0 || j->dirfd >= 0 || j->oldfd >= 0;
}

static int
disk_sync(struct evk_log *l, struct evk_err *err)
{
	struct evk_log_syncjob j;
	int rc;

	if ((rc = evk_log_sync_begin(l, &j, err)) <= 0)
		return rc;
	rc = evk_log_sync_run(&j, err);
	evk_log_sync_end(l, &j, rc);
	return rc;
}

/* The newest record time of segment i (not the last): the time the next
 * segment was started, else its own last index entry. */
static int64_t
seg_newest(const struct evk_log *l, size_t i)
{
	const struct seg *s = &l->segs[i], *n = &l->segs[i + 1];

	if (n->nix > 0)
		return n->ix[0].time;
	return s->nix > 0 ? s->ix[s->nix - 1].time : INT64_MIN;
}

static uint64_t
disk_retain(struct evk_log *l, int64_t now_ns)
{
	char name[NAME_BUF];
	uint64_t dropped = 0;
	int64_t age = l->o.retain_age_ns;
	int by_age = age > 0 && now_ns >= INT64_MIN + age;
	struct seg *s;

	/* The segment goes before its index: a crash in between leaves a
	 * stray index, which nothing reads (numbers are never reused). */
	while (l->nsegs > 1) {
		s = &l->segs[0];
		if (!(l->o.retain_bytes > 0 && l->bytes > l->o.retain_bytes) &&
		    !(by_age && seg_newest(l, 0) < now_ns - age))
			break;
		seg_name(name, s->base, SEG_EXT);
		if (unlinkat(l->dirfd, name, 0) < 0 && errno != ENOENT)
			break; /* kept; retried at the next call */
		seg_name(name, s->base, IX_EXT);
		unlinkat(l->dirfd, name, 0);
		dropped += s->count;
		l->bytes -= s->size;
		free(s->ix);
		l->nsegs--;
		memmove(l->segs, l->segs + 1, l->nsegs * sizeof *l->segs);
		l->first = l->segs[0].base;
	}
	return dropped;
}

/*
 * The first record at or after t_ns as the index tells.  Entries are
 * searched as one sorted run (segments, then entries in the last segment
 * reaching t).  The records between two entries p and e were stored
 * after p and less than a second after it (see need_entry()): when t is
 * a second or more past p they all come before t, and e is the answer;
 * otherwise one of them may be, and the answer is the one after p.
 */
static uint64_t
disk_seek_time(const struct evk_log *l, int64_t t)
{
	size_t nseg = l->nsegs, lo, hi, mid, j;
	const struct ixent *e, *prev = NULL;
	const struct seg *s;
	uint64_t r;

	if (l->segs[nseg - 1].nix == 0)
		nseg--; /* an empty last segment */
	if (nseg == 0)
		return l->next;
	lo = 0;
	hi = nseg;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		s = &l->segs[mid];
		if (s->ix[s->nix - 1].time >= t)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == nseg) {
		s = &l->segs[nseg - 1];
		prev = &s->ix[s->nix - 1];
		r = a_second_after(t, prev->time) ? l->next : prev->seq + 1;
	} else {
		s = &l->segs[lo];
		j = 0;
		hi = s->nix;
		while (j < hi) {
			mid = j + (hi - j) / 2;
			if (s->ix[mid].time >= t)
				hi = mid;
			else
				j = mid + 1;
		}
		e = &s->ix[j];
		if (j > 0)
			prev = &s->ix[j - 1];
		else if (lo > 0)
			prev = &l->segs[lo - 1].ix[l->segs[lo - 1].nix - 1];
		if (prev == NULL || a_second_after(t, prev->time))
			r = e->seq;
		else
			r = prev->seq + 1;
	}
	if (r < l->first)
		r = l->first;
	return r > l->next ? l->next : r;
}

/* --- memory ring --------------------------------------------------------- */

static size_t
rsize(size_t len)
{
	return RHDR + ((len + 7) & ~(size_t)7);
}

/* The offset of the record at `off`, following a wrap. */
static size_t
ring_at(const struct evk_log *l, size_t off)
{
	struct rhdr h;

	if (l->cap - off < RHDR)
		return 0;
	memcpy(&h, l->ring + off, RHDR);
	return (h.flags & RING_WRAP) ? 0 : off;
}

static void
ring_hdr(const struct evk_log *l, size_t off, struct rhdr *h)
{
	memcpy(h, l->ring + off, RHDR);
}

/* Drops the oldest record.  An emptied ring starts again at 0. */
static void
ring_drop(struct evk_log *l)
{
	struct rhdr h;

	ring_hdr(l, l->head, &h);
	l->first++;
	if (l->first == l->next)
		l->head = l->tail = 0;
	else
		l->head = ring_at(l, l->head + rsize(h.len));
}

static int
ring_append(struct evk_log *l, const char *p, size_t len, int64_t now_ns,
    struct evk_err *err)
{
	struct rhdr h = {0, 0, 0};
	size_t need, at;

	/* cap >= RING_MIN and a multiple of 8: with len <= cap - RHDR the
	 * padded record still fits. */
	if (len > UINT32_MAX || len > l->cap - RHDR)
		return evk__err(err, EVK_EINVAL, 0,
		    "record larger than the in-memory log (%zu bytes; the log "
		    "holds %zu with %d bytes per record of overhead)",
		    len, l->cap, RHDR);
	need = rsize(len);
	for (;;) {
		if (l->first == l->next) {
			at = 0;
			break;
		}
		if (l->head < l->tail) {
			/* Free: [tail, cap) and [0, head). */
			if (l->cap - l->tail >= need) {
				at = l->tail;
				break;
			}
			if (l->head >= need) {
				if (l->cap - l->tail >= RHDR) {
					h.flags = RING_WRAP;
					memcpy(l->ring + l->tail, &h, RHDR);
				}
				at = 0;
				break;
			}
		} else if (l->head - l->tail >= need) {
			/* Wrapped: free is [tail, head). */
			at = l->tail;
			break;
		}
		ring_drop(l);
	}
	h.len = (uint32_t)len;
	h.flags = 0;
	h.time = now_ns;
	memcpy(l->ring + at, &h, RHDR);
	if (len > 0)
		memcpy(l->ring + at + RHDR, p, len);
	if (l->first == l->next)
		l->head = at;
	l->tail = at + need;
	l->next++;
	l->durable = l->next;
	return 0;
}

/* Offset of record `seq` (first <= seq < next), by walking from head. */
static size_t
ring_walk(const struct evk_log *l, uint64_t seq)
{
	size_t off = l->head;
	uint64_t s;
	struct rhdr h;

	for (s = l->first; s < seq; s++) {
		off = ring_at(l, off);
		ring_hdr(l, off, &h);
		off += rsize(h.len);
	}
	return ring_at(l, off);
}

static uint64_t
ring_retain(struct evk_log *l, int64_t now_ns)
{
	int64_t age = l->o.retain_age_ns;
	uint64_t dropped = 0;
	struct rhdr h;

	if (age <= 0 || now_ns < INT64_MIN + age)
		return 0;
	while (l->first < l->next) {
		ring_hdr(l, l->head, &h);
		if (h.time >= now_ns - age)
			break;
		ring_drop(l);
		dropped++;
	}
	return dropped;
}

/* Every record's time is kept, so the answer is exact; a walk, as
 * seeking by time is rare next to appending. */
static uint64_t
ring_seek_time(const struct evk_log *l, int64_t t)
{
	size_t off = l->head;
	uint64_t s;
	struct rhdr h;

	for (s = l->first; s < l->next; s++) {
		off = ring_at(l, off);
		ring_hdr(l, off, &h);
		if (h.time >= t)
			return s;
		off += rsize(h.len);
	}
	return l->next;
}

/* --- the public functions ------------------------------------------------ */

static void
log_free(struct evk_log *l)
{
	size_t i;

	if (l->fd >= 0)
		close(l->fd);
	if (l->oldfd >= 0)
		close(l->oldfd);
	if (l->ixfd >= 0)
		close(l->ixfd);
	if (l->dirfd >= 0)
		close(l->dirfd);
	for (i = 0; i < l->nsegs; i++)
		free(l->segs[i].ix);
	free(l->segs);
	free(l->ring);
	free(l->dir);
	free(l);
}

int
evk_log_open(const struct evk_log_opts *o, struct evk_log **log,
    struct evk_log_recovery *rec, struct evk_err *err)
{
	struct evk_log_recovery dummy;
	struct evk_log *l;
	int rc;

	*log = NULL;
	if (rec == NULL)
		rec = &dummy;
	memset(rec, 0, sizeof *rec);
	if (o == NULL || (unsigned)o->fsync > EVK_FSYNC_NEVER ||
	    o->retain_age_ns < 0 || (o->dir != NULL && o->dir[0] == '\0'))
		return evk__err(err, EVK_EINVAL, 0, "invalid log options");
	if ((l = calloc(1, sizeof *l)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	l->o = *o;
	l->fd = l->oldfd = l->ixfd = l->dirfd = -1;
	if (l->o.segment_bytes == 0)
		l->o.segment_bytes = EVK_LOG_SEGMENT_BYTES;
	if (l->o.index_every == 0)
		l->o.index_every = EVK_LOG_INDEX_EVERY;
	l->first = l->next = l->durable = 1;
	if (o->dir == NULL) {
		uint64_t cap =
		    o->retain_bytes ? o->retain_bytes : EVK_LOG_MEMORY_BYTES;
		if (cap < RING_MIN || cap > SIZE_MAX / 2) {
			free(l);
			return evk__err(err, EVK_EINVAL, 0,
			    "in-memory log size %" PRIu64
			    " out of range (at least %d bytes)",
			    cap, RING_MIN);
		}
		l->cap = (size_t)cap & ~(size_t)7;
		if ((l->ring = malloc(l->cap)) == NULL) {
			free(l);
			return evk__err(err, EVK_ENOMEM, 0, "out of memory");
		}
		*log = l;
		return 0;
	}
	if ((l->dir = strdup(o->dir)) == NULL) {
		free(l);
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	}
	l->o.dir = l->dir;
	if ((rc = disk_open(l, rec, err)) < 0) {
		log_free(l);
		return rc;
	}
	*log = l;
	return 0;
}

void
evk_log_close(struct evk_log *log)
{
	if (log == NULL)
		return;
	if (log->dir != NULL)
		(void)disk_sync(log, NULL);
	log_free(log);
}

uint64_t
evk_log_first(const struct evk_log *log)
{
	return log->first;
}

uint64_t
evk_log_next(const struct evk_log *log)
{
	return log->next;
}

int
evk_log_append(struct evk_log *log, const char *p, size_t len, int64_t now_ns,
    uint64_t *seq, struct evk_err *err)
{
	uint64_t at = log->next;
	int rc;

	/* What recovery would cut as damage is refused here instead, so
	 * that an append can never make the log lose later records. */
	if (len == 0)
		return evk__err(err, EVK_EINVAL, 0, "empty record");
	if (memchr(p, '\n', len) != NULL)
		return evk__err(err, EVK_EINVAL, 0,
		    "record contains a newline");
	if (memchr(p, '\0', len) != NULL)
		return evk__err(err, EVK_EINVAL, 0,
		    "record contains a NUL byte");
	if (len >= SSIZE_MAX)
		return evk__err(err, EVK_EINVAL, 0, "record too long");
	rc = log->dir != NULL ? disk_append(log, p, len, now_ns, err)
	                      : ring_append(log, p, len, now_ns, err);
	if (rc == 0 && seq != NULL)
		*seq = at;
	return rc;
}

int
evk_log_sync(struct evk_log *log, struct evk_err *err)
{
	return log->dir != NULL ? disk_sync(log, err) : 0;
}

int
evk_log_sync_begin(struct evk_log *log, struct evk_log_syncjob *j,
    struct evk_err *err)
{
	*j = (struct evk_log_syncjob){.fd = -1,
	    .oldfd = -1,
	    .dirfd = -1,
	    .upto = log->next,
	    .dir = log->dir};
	return log->dir != NULL ? disk_sync_begin(log, j, err) : 0;
}

int
evk_log_sync_run(struct evk_log_syncjob *j, struct evk_err *err)
{
	char name[NAME_BUF];

	if (j->oldfd >= 0 && fdatasync(j->oldfd) < 0) {
		j->sys_errno = errno;
		seg_name(name, j->oldbase, SEG_EXT);
		return evk__err_sys(err, j->sys_errno, "fdatasync %s/%s",
		    j->dir, name);
	}
	if (j->fd >= 0 && fdatasync(j->fd) < 0) {
		j->sys_errno = errno;
		seg_name(name, j->base, SEG_EXT);
		return evk__err_sys(err, j->sys_errno, "fdatasync %s/%s",
		    j->dir, name);
	}
	if (j->dirfd >= 0 && fsync(j->dirfd) < 0) {
		j->sys_errno = errno;
		return evk__err_sys(err, j->sys_errno, "fsync %s", j->dir);
	}
	return 0;
}

void
evk_log_sync_end(struct evk_log *log, struct evk_log_syncjob *j, int rc)
{
	if (rc == 0 && j->upto > log->durable)
		log->durable = j->upto;
	/* After a failed sync the kernel may have dropped the pages it
	 * could not write, and a later sync would succeed without them:
	 * the log can no longer promise durability (as PostgreSQL
	 * concluded), so every later sync fails too. */
	if (rc < 0 && log->sync_errno == 0)
		log->sync_errno = j->sys_errno != 0 ? j->sys_errno : EIO;
	if (j->fd >= 0)
		close(j->fd);
	if (j->oldfd >= 0)
		close(j->oldfd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	j->fd = j->oldfd = j->dirfd = -1;
}

uint64_t
evk_log_durable(const struct evk_log *log)
{
	return log->durable;
}

uint64_t
evk_log_retain(struct evk_log *log, int64_t now_ns)
{
	return log->dir != NULL ? disk_retain(log, now_ns)
	                        : ring_retain(log, now_ns);
}

uint64_t
evk_log_seek_time(const struct evk_log *log, int64_t t_ns)
{
	return log->dir != NULL ? disk_seek_time(log, t_ns)
	                        : ring_seek_time(log, t_ns);
}

int
evk_log_cursor_open(struct evk_log *log, uint64_t from,
    struct evk_log_cursor **cur, struct evk_err *err)
{
	struct evk_log_cursor *c;

	*cur = NULL;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	/* Nothing is read or opened until the first next(): a cursor costs
	 * a few bytes until used, and whatever retention drops meanwhile is
	 * reported there as a gap. */
	c->log = log;
	c->fd = -1;
	/* Below first: the first next() reports the gap. */
	c->pos = from == 0 ? log->first : from > log->next ? log->next : from;
	*cur = c;
	return 0;
}

/* Makes the cursor's line at c->off available: the bytes up to its "\n",
 * reading (and growing the buffer) as needed, never past `limit`. */
static int
cur_line(struct evk_log_cursor *c, uint64_t limit, const char **lp, size_t *ln,
    struct evk_err *err)
{
	const struct evk_log *l = c->log;
	char name[NAME_BUF];
	const char *nl;
	size_t at, want;
	ssize_t got;
	int rc;

	for (;;) {
		if (c->off >= c->woff && c->off - c->woff < c->wlen) {
			at = (size_t)(c->off - c->woff);
			nl = memchr(c->buf + at, '\n', c->wlen - at);
			if (nl != NULL) {
				*lp = c->buf + at;
				*ln = (size_t)(nl - *lp);
				return 0;
			}
			if (c->woff + c->wlen >= limit)
				goto corrupt;
			/* The record goes on past the window: keep its
			 * start, read the rest after it. */
			memmove(c->buf, c->buf + at, c->wlen - at);
			c->wlen -= at;
			c->woff = c->off;
		} else {
			if (c->off >= limit)
				goto corrupt;
			c->woff = c->off;
			c->wlen = 0;
		}
		if (c->wlen == c->cap &&
		    (rc = grow((void **)&c->buf, &c->cap,
		         c->cap ? c->cap * 2 : READ_BLOCK, 1)) < 0)
			return evk__err(err, rc, 0, "out of memory");
		want = c->cap - c->wlen;
		if (want > limit - (c->woff + c->wlen))
			want = (size_t)(limit - (c->woff + c->wlen));
		got = pread_full(c->fd, c->buf + c->wlen, want,
		    c->woff + c->wlen);
		if (got < 0) {
			seg_name(name, c->segbase, SEG_EXT);
			return evk__err_sys(err, errno, "read %s/%s", l->dir,
			    name);
		}
		if ((size_t)got < want)
			goto corrupt;
		c->wlen += want;
	}
corrupt:
	seg_name(name, c->segbase, SEG_EXT);
	return evk__err(err, EVK_EIO, 0,
	    "%s/%s: segment changed under the log (record %" PRIu64
	    " not where expected)",
	    l->dir, name, c->offseq);
}

static int
disk_next(struct evk_log_cursor *c, const char **p, size_t *len, uint64_t *seq,
    struct evk_err *err)
{
	const struct evk_log *l = c->log;
	const struct seg *s = &l->segs[seg_find(l, c->pos)];
	const struct ixent *e;
	char name[NAME_BUF];
	const char *lp = NULL;
	size_t ln = 0;
	int rc;

	if (c->fd < 0 || c->segbase != s->base) {
		if (c->fd >= 0)
			close(c->fd);
		seg_name(name, s->base, SEG_EXT);
		c->fd = openat(l->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (c->fd < 0)
			return evk__err_sys(err, errno, "open %s/%s", l->dir,
			    name);
		c->segbase = s->base;
		c->wlen = 0;
		/* From the nearest entry at or before pos, skip forward. */
		e = ix_floor(s, c->pos);
		c->off = e != NULL ? e->off : 0;
		c->offseq = e != NULL ? e->seq : s->base;
	}
	for (;;) {
		if ((rc = cur_line(c, s->size, &lp, &ln, err)) < 0)
			return rc;
		c->off += ln + 1;
		if (c->offseq++ == c->pos) {
			*p = lp;
			*len = ln;
			*seq = c->pos++;
			return 1;
		}
	}
}

/* Copies the record out of the ring: an append may overwrite the ring
 * before the caller is done with it. */
static int
ring_next(struct evk_log_cursor *c, const char **p, size_t *len, uint64_t *seq,
    struct evk_err *err)
{
	const struct evk_log *l = c->log;
	struct rhdr h;
	size_t off;

	/* The wrap before the first record may have been reused; the
	 * one between two records kept cannot have been. */
	if (c->pos == l->first)
		off = l->head;
	else if (c->have_roff)
		off = ring_at(l, c->roff);
	else
		off = ring_walk(l, c->pos);
	ring_hdr(l, off, &h);
	if (grow((void **)&c->buf, &c->cap, (size_t)h.len + 1, 1) < 0)
		return evk__err(err, EVK_ENOMEM, 0, "out of memory");
	memcpy(c->buf, l->ring + off + RHDR, h.len);
	*p = c->buf;
	*len = h.len;
	*seq = c->pos++;
	c->roff = off + rsize(h.len);
	c->have_roff = 1;
	return 1;
}

int
evk_log_cursor_next(struct evk_log_cursor *cur, const char **p, size_t *len,
    uint64_t *seq, struct evk_err *err)
{
	const struct evk_log *l = cur->log;

	/* Gaps are found by position alone: retention only ever drops the
	 * records below first, so a cursor below it lost exactly those in
	 * between, whether its segment file is gone or still open here. */
	if (cur->pos < l->first) {
		*seq = l->first - cur->pos;
		cur->pos = l->first;
		cur->have_roff = 0;
		if (cur->fd >= 0) {
			close(cur->fd);
			cur->fd = -1;
		}
		return EVK_LOG_GAP;
	}
	if (cur->pos >= l->next)
		return 0;
	return l->dir != NULL ? disk_next(cur, p, len, seq, err)
	                      : ring_next(cur, p, len, seq, err);
}

uint64_t
evk_log_cursor_pos(const struct evk_log_cursor *cur)
{
	return cur->pos;
}

void
evk_log_cursor_close(struct evk_log_cursor *cur)
{
	if (cur == NULL)
		return;
	if (cur->fd >= 0)
		close(cur->fd);
	free(cur->buf);
	free(cur);
}
