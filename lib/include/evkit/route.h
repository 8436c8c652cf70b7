/*
 * evkit/route.h - routing rules: which events go to which destinations.
 *
 * A rule is one line "RULE -> DEST".  RULE says which events match:
 *
 *   *                  every event, whatever it holds;
 *   a topic pattern    one word of letters, digits, "._-$*>:" and
 *                      non-ASCII characters only
 *                      ("order.>", "web.access", ">"): the event's type
 *                      matches it, NATS-style (evk_expr_topic());
 *   anything else      an evfilter expression (evk_expr_compile()):
 *                      "data.status >= 500", "topic(\"a.*\") && x".
 *
 * A bare path such as "data.paid" is thus read as a topic pattern; as an
 * expression it is written "exists(data.paid)" or "data.paid == true".
 * The first "->" outside a string or a /regex/ ends RULE.
 *
 * DEST is where the matching events go: "stdout", "stderr", "null",
 * "fd:N", "file:PATH" (PATH may hold {field.path} templates), "unix:PATH",
 * "bus:" or "bus:URL", "exec:COMMAND".  The module parses and matches; it
 * opens nothing (evroute does).
 */
#ifndef EVKIT_ROUTE_H
#define EVKIT_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "evkit/buf.h"
#include "evkit/err.h"

#ifdef __cplusplus
extern "C" {
#endif

enum evk_dest_kind {
	EVK_DEST_STDOUT = 1,
	EVK_DEST_STDERR,
	EVK_DEST_NULL,
	EVK_DEST_FD,
	EVK_DEST_FILE,
	EVK_DEST_UNIX,
	EVK_DEST_BUS,
	EVK_DEST_EXEC,
};

/* The name a template field takes when the event does not have it. */
#define EVK_ROUTE_MISSING "_missing"
/* ... when it is the empty string, an object or an array. */
#define EVK_ROUTE_EMPTY "_empty"
#define EVK_ROUTE_OBJECT "_object"
#define EVK_ROUTE_ARRAY "_array"
/* The longest a field's value is in a file name (bytes, after encoding);
 * longer ones are cut and end with "~" and 16 hex digits of a hash. */
#define EVK_ROUTE_NAME_MAX 120

/* A destination, as parsed.  Owned by its evk_routes. */
struct evk_dest {
	enum evk_dest_kind kind;
	const char *text; /* the destination as written ("file:out.ndjson") */
	const char *arg; /* after the "kind:": path, URL ("" for "bus:"),
	                    command; "" for stdout, stderr, null */
	int fd; /* fd:N */
	int templated; /* file: with at least one {field} */
	size_t index; /* its place in evk_routes_dest() */
};

struct evk_routes;

/* Returns a new empty rule set, or NULL when out of memory.  Free with
 * evk_routes_free(). */
struct evk_routes *evk_routes_new(void);

/* Frees `rt` with its expressions and destinations; NULL does nothing. */
void evk_routes_free(struct evk_routes *rt);

/*
 * Parses the rule line `line[0..len)` (no newline; need not be
 * NUL-terminated) and adds it.  A line that is blank or whose first
 * non-blank character is '#' adds nothing.  `lineno` is stored in err->line
 * on an error.  Returns 0, or EVK_EINVAL with err->column the 1-based byte
 * column of the fault in the line and a message ("missing '->'",
 * "unknown destination 'fiel:'", an expression's own message), or
 * EVK_ENOMEM.  A destination written the same way by several rules is one
 * destination.
 */
int evk_routes_add(struct evk_routes *rt, const char *line, size_t len,
    uint64_t lineno, struct evk_err *err);

/*
 * Parses a rules file held in `text[0..len)`: lines ended by "\n" (a "\r"
 * before it is ignored), each as evk_routes_add().  Stops at the first
 * error, with err->line its 1-based line number.  A NUL byte is an error.
 */
int evk_routes_parse(struct evk_routes *rt, const char *text, size_t len,
    struct evk_err *err);

/* Sets the destination of the events that no rule matches (the "--else"
 * of evroute), parsed from `dest` (NUL-terminated).  Returns 0 or
 * EVK_EINVAL with err->column in `dest`, or EVK_ENOMEM. */
int evk_routes_set_else(struct evk_routes *rt, const char *dest,
    struct evk_err *err);

/* The number of rules, and of distinct destinations (the else one
 * included). */
size_t evk_routes_count(const struct evk_routes *rt);
size_t evk_routes_ndests(const struct evk_routes *rt);

/* The destination number i (0 <= i < evk_routes_ndests()); borrowed. */
const struct evk_dest *evk_routes_dest(const struct evk_routes *rt, size_t i);

/* The destination of rule number i, borrowed; and the else destination
 * (NULL when not set). */
const struct evk_dest *evk_routes_rule_dest(const struct evk_routes *rt,
    size_t i);
const struct evk_dest *evk_routes_else(const struct evk_routes *rt);

/*
 * The destinations of the event `ev`, JSON text that evk_json_check()
 * accepted: every rule that matches, in the order of the rules, each
 * destination once; with `first` set, only the first rule that matches.
 * When none does, the else destination if there is one.  Their indexes
 * go to out[] (room for evk_routes_ndests() entries).  Returns how many
 * (0: the event goes nowhere), or a negative code from
 * evk_expr_eval() with `err` filled.  Not reentrant.
 */
int evk_routes_match(struct evk_routes *rt, struct evk_span ev, int first,
    size_t *out, struct evk_err *err);

/*
 * The file name of the file: destination `d` for the event `ev` (checked
 * JSON): its PATH with each {field.path} replaced by the field's value made
 * safe by evk_route_safe_name() (a string's unescaped text; a number, true,
 * false or null their JSON text; an object or array EVK_ROUTE_OBJECT or
 * EVK_ROUTE_ARRAY; a missing field EVK_ROUTE_MISSING).  Appended to
 * `out`.  When `ev` is the event last given to evk_routes_match() (the
 * same bytes, unchanged), its "type" found then is not looked up again.
 * Returns 0 or EVK_ENOMEM.
 */
int evk_route_path(const struct evk_dest *d, struct evk_span ev,
    struct evk_buf *out);

/*
 * Appends `p[0..n)` made safe as one file name component: the bytes
 * A-Z a-z 0-9 and "-_.,+=@~" are kept, a "." at the start is encoded
 * (so never "." nor ".." nor a hidden file), every other byte (a "/",
 * "%", a space, a control or non-ASCII byte) is written %XX in hex, as in
 * a URL; an empty value is EVK_ROUTE_EMPTY.  Different values give
 * different names, except that values whose encoding is longer than
 * EVK_ROUTE_NAME_MAX are cut and given a 64-bit hash of the whole value.
 * Returns 0 or EVK_ENOMEM.
 */
int evk_route_safe_name(struct evk_buf *out, const char *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
