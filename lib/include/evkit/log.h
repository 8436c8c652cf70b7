/*
 * evkit/log.h - the bus's log: every event published, in order, with a
 * sequence number, kept in segment files on disk or in a bounded ring in
 * memory, read back by cursors from any sequence number or time.
 *
 * On disk the log is a directory of segments.  A segment is an NDJSON
 * file: each record is the event line exactly as published, then "\n",
 * so evfilter, evreplay and jq read a segment directly.  Its name is the
 * sequence number of its first record, 20 digits: 00000000000000000001
 * .ndjson; record k of the segment (from 0) has that number plus k, so
 * numbers are strictly increasing and never reused.  Beside each segment,
 * a sparse index (same name, .index) maps sequence numbers and the times
 * records were stored to file offsets: an entry at a segment's first
 * record, then at the first record after every `index_every` bytes and
 * after every second.  An index is derived data: a missing or stale one
 * is rebuilt from its segment when the log opens.
 *
 * In memory (dir NULL) the log is a ring holding at most `retain_bytes`
 * bytes of records; the oldest go first.
 *
 * A log is used by one thread.  Cursors read what has been appended
 * (complete records only), each at its own pace; a cursor that falls
 * behind what retention keeps is told how many records it missed.
 */
#ifndef EVKIT_LOG_H
#define EVKIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum evk_fsync {
	EVK_FSYNC_BATCH = 0, /* evk_log_sync() makes appends durable */
	EVK_FSYNC_ALWAYS, /* every append is durable when it returns */
	EVK_FSYNC_NEVER, /* left to the kernel */
};

#define EVK_LOG_SEGMENT_BYTES (64u << 20)
#define EVK_LOG_MEMORY_BYTES (64u << 20)
#define EVK_LOG_INDEX_EVERY 4096u

struct evk_log_opts {
	const char *dir; /* NULL: in memory */
	uint64_t segment_bytes; /* a segment rolls when it reaches this;
	                           0: EVK_LOG_SEGMENT_BYTES */
	uint64_t retain_bytes; /* disk: 0 is no limit; memory: the ring's
	                           size, 0: EVK_LOG_MEMORY_BYTES */
	int64_t retain_age_ns; /* 0: no limit */
	enum evk_fsync fsync;
	size_t index_every; /* 0: EVK_LOG_INDEX_EVERY */
};

/* What evk_log_open() found and did, for the bus to say. */
struct evk_log_recovery {
	uint64_t segments; /* segment files found */
	uint64_t records; /* records in them */
	uint64_t torn_bytes; /* bytes cut from the end of the last segment */
	uint64_t indexes_rebuilt;
	char damaged[256]; /* file (in o->dir) holding the cut bytes, or "" */
};

struct evk_log;

/*
 * Opens the log in o->dir, made (0700) when missing, or in memory.  On
 * disk it recovers first: bytes after the last complete, valid record of
 * the last segment (a torn write: no final newline, or a line that is not
 * a JSON object, or NUL bytes) are cut off and kept in a file
 * "<segment>.damaged-<n>" in the directory; missing or stale indexes are
 * rebuilt (times from each record's "time" attribute when it has one,
 * else the time of the entry before).  `rec` (may be NULL) says what was
 * done.  Returns 0 or a negative EVK_* code with `err` filled.
 */
int evk_log_open(const struct evk_log_opts *o, struct evk_log **log,
    struct evk_log_recovery *rec, struct evk_err *err);

/* Makes everything appended durable (unless EVK_FSYNC_NEVER) and closes
 * the log; cursors must be closed first.  NULL does nothing. */
void evk_log_close(struct evk_log *log);

/* The first sequence number kept, and the one the next append gets
 * (equal when the log is empty; 1 for a new log). */
uint64_t evk_log_first(const struct evk_log *log);
uint64_t evk_log_next(const struct evk_log *log);

/*
 * Appends the record p[0..len) (one event line without its newline; the
 * caller has checked it), stored at `now_ns` (ns since the epoch), and
 * stores its sequence number in *seq.  Rolls the segment when it is full
 * and, in memory, drops the oldest records to make room.  With
 * EVK_FSYNC_ALWAYS it returns once the record is durable.  Returns 0, or
 * EVK_EIO with `err` saying why (ENOSPC: "No space left on device"); after
 * a failed append the log is as it was before it.  Also EVK_EINVAL for a
 * record that is empty or holds a newline or NUL byte (recovery would cut
 * it), or in memory one larger than the ring; EVK_ENOMEM.
 */
int evk_log_append(struct evk_log *log, const char *p, size_t len,
    int64_t now_ns, uint64_t *seq, struct evk_err *err);

/* Makes every record appended so far durable (fdatasync; the directory
 * too after a roll).  Returns 0 or EVK_EIO. */
int evk_log_sync(struct evk_log *log, struct evk_err *err);

/*
 * The same in three steps, so that the wait for the disk can be made in
 * another thread while the log's thread goes on appending and serving
 * cursors.  evk_log_sync_begin() (log's thread) takes what awaits a sync:
 * returns 1 when there is something, 0 when not (then the job is
 * empty), or EVK_EIO.  evk_log_sync_run() (any thread; it touches only
 * the job) waits for the disk: 0 or EVK_EIO.  evk_log_sync_end() (log's
 * thread, with run's result; also after a begin that returned 0) counts
 * the records the job covered as durable and frees the job.  One job at
 * a time; it must end before evk_log_close().  After a failed sync every
 * later one fails: the kernel may have dropped what it could not write.
 */
struct evk_log_syncjob {
	int fd, oldfd, dirfd; /* the files to sync, or -1 */
	uint64_t base, oldbase; /* their segments */
	uint64_t upto; /* records below this are durable after it */
	const char *dir;
	int sys_errno; /* of a failed run */
};
int evk_log_sync_begin(struct evk_log *log, struct evk_log_syncjob *j,
    struct evk_err *err);
int evk_log_sync_run(struct evk_log_syncjob *j, struct evk_err *err);
void evk_log_sync_end(struct evk_log *log, struct evk_log_syncjob *j, int rc);

/* Every record with a sequence number below this is durable. */
uint64_t evk_log_durable(const struct evk_log *log);

/* Deletes the oldest whole segments beyond retain_bytes or older than
 * retain_age_ns at `now_ns` (never the one being written).  Returns the
 * number of records dropped. */
uint64_t evk_log_retain(struct evk_log *log, int64_t now_ns);

/* The sequence number of the first record stored at or after `t_ns`, as
 * far as the index tells (to its entries: it may be an earlier one); the
 * next sequence number when there is none. */
uint64_t evk_log_seek_time(const struct evk_log *log, int64_t t_ns);

struct evk_log_cursor;

/* A cursor that reads from sequence number `from` on.  Returns 0 or a
 * negative EVK_* code. */
int evk_log_cursor_open(struct evk_log *log, uint64_t from,
    struct evk_log_cursor **cur, struct evk_err *err);

/*
 * Reads the next record: stores its bytes (without the newline, valid
 * until the next call on this cursor) and its sequence number.  Returns 1;
 * 0 when the cursor is at the end of the log (call again after more
 * appends); EVK_LOG_GAP when records the cursor was to read next were
 * dropped by retention, with *seq set to how many (the cursor then goes
 * on at the first record kept); or a negative EVK_* code.
 */
#define EVK_LOG_GAP 2
int evk_log_cursor_next(struct evk_log_cursor *cur, const char **p, size_t *len,
    uint64_t *seq, struct evk_err *err);

/* The sequence number the cursor reads next (below evk_log_first() when
 * its next call reports a gap). */
uint64_t evk_log_cursor_pos(const struct evk_log_cursor *cur);

/* NULL does nothing. */
void evk_log_cursor_close(struct evk_log_cursor *cur);

#ifdef __cplusplus
}
#endif

#endif
