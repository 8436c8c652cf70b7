/*
 * evkit/event.h - the CloudEvents 1.0 JSON envelope: ids, building events
 * and validating them.
 */
#ifndef EVKIT_EVENT_H
#define EVKIT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "evkit/buf.h"
#include "evkit/err.h"
#include "evkit/json.h"
#include "evkit/time.h"
#include "evkit/topic.h" /* evk_topic_check() used to live here */

#ifdef __cplusplus
extern "C" {
#endif

/* --- ids ------------------------------------------------------------------ */

/* Text form of a UUID with its NUL: 8-4-4-4-12 hex digits. */
#define EVK_UUID_LEN 37

/*
 * A generator of UUIDv7 ids (RFC 9562, section 5.7): 48 bits of Unix time
 * in milliseconds, then 74 random bits from libsodium.  Ids from one
 * generator are strictly increasing: when the clock has not moved on (or
 * went back), the previous id's random part is incremented instead
 * (RFC 9562 section 6.2, method 2), so order holds within a process and
 * ids stay unguessable across processes.
 */
struct evk_idgen;

/* Returns a new generator, or NULL when out of memory or when libsodium
 * cannot initialise.  Free with evk_idgen_free(). */
struct evk_idgen *evk_idgen_new(void);

/* Frees `g`; NULL does nothing.  Wipes its buffered randomness. */
void evk_idgen_free(struct evk_idgen *g);

/* Writes the next id for the time `unix_ms` into `out` (EVK_UUID_LEN
 * bytes, NUL-terminated). */
void evk_idgen_next(struct evk_idgen *g, uint64_t unix_ms, char *out);

/* --- building events ---------------------------------------------------------- */

/* The attributes that stay the same for a stream of events. */
struct evk_envelope_attrs {
	const char *source; /* required: a URI-reference */
	const char *type; /* required */
	const char *subject; /* NULL: none */
	const char *datacontenttype; /* NULL: none */
};

/*
 * A prepared envelope: the constant attributes are escaped once, so that
 * writing an event costs an id, a time and copies.
 */
struct evk_envelope;

/* Returns a new envelope for `a` (copied), or NULL with `err` filled when
 * an attribute is not valid UTF-8 or is empty (EVK_EINVAL) or out of
 * memory.  Free with evk_envelope_free(). */
struct evk_envelope *evk_envelope_new(const struct evk_envelope_attrs *a,
    struct evk_err *err);

/* Frees `e`; NULL does nothing. */
void evk_envelope_free(struct evk_envelope *e);

/*
 * Appends one event to `out`: `{"specversion":"1.0","id":...,"source":...,
 * "type":...,["subject":...,]"time":...,["datacontenttype":...,]"data":DATA}`
 * with a new id from `ids`, the time `t` (NULL: now) written in UTC with
 * microseconds, and `data` (JSON text, copied as is; NULL: no data
 * member).  Returns 0, or EVK_ENOMEM, or EVK_ERANGE when `t` has no
 * 4-digit year.
 */
int evk_envelope_write(const struct evk_envelope *e, struct evk_idgen *ids,
    const struct evk_time *t, const char *data, size_t datalen,
    struct evk_buf *out);

/*
 * Completes an existing CloudEvent: appends to `out` the checked object
 * `obj` with the attributes it lacks among id, source, type and time (id
 * and time generated, source and type from the envelope when it has them)
 * added right after its "{", its own bytes kept.  Other attributes
 * (subject, datacontenttype) are never added: their absence has meaning.  When nothing is missing, `out` gets
 * exactly `obj`.  Returns the number of attributes added, or EVK_ENOMEM.
 */
int evk_envelope_complete(const struct evk_envelope *e, struct evk_idgen *ids,
    const struct evk_time *t, struct evk_span obj, struct evk_buf *out);

/*
 * Nonzero when the checked JSON object `obj` has a top-level "specversion"
 * member, which is what marks a CloudEvent in the JSON format.  Lines that
 * hold neither "specversion" nor a \u escape anywhere (which could spell
 * it) are answered by a byte search, without walking the object.
 */
int evk_event_is_cloudevent(struct evk_span obj);

/* --- validation ------------------------------------------------------------ */

/*
 * Validates the checked JSON text `obj` as a CloudEvents 1.0 event in the
 * JSON format: an object; specversion "1.0"; id, source, type non-empty
 * strings; subject, datacontenttype, dataschema strings when present (a
 * null attribute is absent); time an RFC 3339 string; attribute names of
 * a-z and 0-9 only; extension values strings, booleans or integers within
 * the CloudEvents Integer range (32-bit signed); "data" and "data_base64"
 * not both, data_base64 a base64 string.  Returns 0 or EVK_EEVENT with a
 * message naming the attribute ("missing attribute \"id\"").
 */
int evk_event_validate(struct evk_span obj, struct evk_err *err);

/*
 * Reads the time at the dotted `path` ("ts", "meta.time") of the checked
 * JSON value `v`: an RFC 3339 string, or epoch seconds or milliseconds as
 * a number or as a string holding one (see evk_time_from_epoch()).
 * Returns 0, EVK_ENOMATCH when the path is absent, or EVK_ETIME.
 */
int evk_event_time_at(struct evk_span v, const char *path, struct evk_time *t,
    struct evk_err *err);

#ifdef __cplusplus
}
#endif
#endif
