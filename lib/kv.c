/*
 * lib/kv.c - a JSON object from key=value arguments (see evkit/kv.h).
 *
 * Values are kept as JSON text, not as numbers or jansson values, so that
 * "qty=2.50" or "n=123456789012345678901" come out exactly as typed.  The
 * object is a small tree of nodes in one array; children are linked in the
 * order they were first given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evkit/frame.h"
#include "evkit/json.h"
#include "evkit/kv.h"
#include "internal.h"

struct node {
	char *key; /* NUL-terminated; NULL for the root */
	char *val; /* JSON text; NULL for an object */
	size_t vlen;
	int child, last, next; /* indexes, -1 for none */
};

struct evk_kv {
	int flags;
	size_t max_value;
	size_t count;
	struct node *n;
	int nn, cap;
	struct evk_json_checker *json;
};

struct evk_kv *
evk_kv_new(int flags, size_t max_value, const struct evk_json_opts *json)
{
	struct evk_kv *kv = calloc(1, sizeof *kv);

	if (kv == NULL)
		return NULL;
	kv->flags = flags;
	kv->max_value = max_value ? max_value : EVK_MAX_LINE;
	kv->cap = 8;
	if ((kv->n = calloc((size_t)kv->cap, sizeof *kv->n)) == NULL ||
	    (kv->json = evk_json_checker_new(json)) == NULL) {
		evk_kv_free(kv);
		return NULL;
	}
	kv->nn = 1; /* the root object */
	kv->n[0].child = kv->n[0].last = kv->n[0].next = -1;
	return kv;
}

void
evk_kv_free(struct evk_kv *kv)
{
	if (kv == NULL)
		return;
	for (int i = 0; kv->n != NULL && i < kv->nn; i++) {
		free(kv->n[i].key);
		free(kv->n[i].val);
	}
	free(kv->n);
	evk_json_checker_free(kv->json);
	free(kv);
}

size_t
evk_kv_count(const struct evk_kv *kv)
{
	return kv->count;
}

/* Finds the child `key[0..len)` of `parent`, or adds it.  Returns its index,
 * or -1 when out of memory.  `*added` says which. */
static int
child(struct evk_kv *kv, int parent, const char *key, size_t len, int *added)
{
	struct node *nd;
	int i;

	for (i = kv->n[parent].child; i >= 0; i = kv->n[i].next)
		if (strlen(kv->n[i].key) == len &&
		    !memcmp(kv->n[i].key, key, len)) {
			*added = 0;
			return i;
		}
	if (kv->nn == kv->cap) {
		nd = realloc(kv->n, (size_t)kv->cap * 2 * sizeof *nd);
		if (nd == NULL)
			return -1;
		kv->n = nd;
		kv->cap *= 2;
	}
	nd = &kv->n[kv->nn];
	if ((nd->key = malloc(len + 1)) == NULL)
		return -1;
	memcpy(nd->key, key, len);
	nd->key[len] = '\0';
	nd->val = NULL;
	nd->vlen = 0;
	nd->child = nd->last = nd->next = -1;
	if (kv->n[parent].last >= 0)
		kv->n[kv->n[parent].last].next = kv->nn;
	else
		kv->n[parent].child = kv->nn;
	kv->n[parent].last = kv->nn;
	*added = 1;
	return kv->nn++;
}

/* Reads a whole file of at most `max` bytes into `out`. */
static int
slurp(const char *path, size_t max, struct evk_buf *out, struct evk_err *err)
{
	char chunk[65536];
	ssize_t r;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return evk__err_sys(err, errno, "%s", path);
	for (;;) {
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = evk__err_sys(err, errno, "%s", path);
			break;
		}
		if (r == 0)
			break;
		if ((size_t)r > max - out->len) {
			rc = evk__err(err, EVK_ETOOLONG, 0,
			    "%s: larger than %zu bytes", path, max);
			break;
		}
		if (evk_buf_add(out, chunk, (size_t)r) < 0) {
			rc = evk__err(err, EVK_ENOMEM, 0, "out of memory");
			break;
		}
	}
	close(fd);
	return rc;
}

/* Turns the value text of `arg` into JSON text in `out`. */
static int
value(struct evk_kv *kv, const char *arg, const char *v, int raw,
    struct evk_buf *out, struct evk_err *err)
{
	struct evk_buf file = EVK_BUF_ZERO;
	size_t n = strlen(v), bad;
	size_t col = (size_t)(v - arg) + 1;
	int rc;

	if (raw) {
		rc = evk_json_check(kv->json, v, n, NULL, err);
		if (rc < 0) {
			if (err != NULL)
				err->column += col - 1;
			return rc;
		}
		return evk_json_minify(out, v, n) < 0 ? EVK_ENOMEM : 0;
	}
	if (*v == '@') {
		if (kv->flags & EVK_KV_NOFILES)
			return evk__err(err, EVK_EINVAL, col,
			    "reading files is not allowed here");
		if ((rc = slurp(v + 1, kv->max_value, &file, err)) < 0) {
			evk_buf_free(&file);
			return rc;
		}
		v = file.p ? file.p : "";
		n = file.len;
		if (memchr(v, '\0', n) != NULL) {
			evk_buf_free(&file);
			return evk__err(err, EVK_EINVAL, col,
			    "%s: holds a NUL byte", arg + col);
		}
	} else if (evk_json_is_number(v, n) || !strcmp(v, "true") ||
	    !strcmp(v, "false") || !strcmp(v, "null")) {
		return evk_buf_add(out, v, n) < 0 ? EVK_ENOMEM : 0;
	}
	if (evk_utf8_check(v, n, &bad) < 0)
		rc = evk__err(err, EVK_EUTF8, file.p ? 0 : col + bad,
		    "invalid UTF-8 in value");
	else
		rc = evk_json_escape(out, v, n) < 0 ? EVK_ENOMEM : 0;
	evk_buf_free(&file);
	return rc;
}

int
evk_kv_add(struct evk_kv *kv, const char *arg, struct evk_err *err)
{
	const char *eq = strchr(arg, '='), *seg, *dot;
	struct evk_buf val = EVK_BUF_ZERO;
	size_t klen, bad;
	int raw, at = 0, added = 0, depth = 0, rc;

	if (eq == NULL)
		return evk__err(err, EVK_EINVAL, 1,
		    "expected key=value, key:=JSON or key=@FILE");
	raw = eq > arg && eq[-1] == ':';
	klen = (size_t)(eq - arg) - (size_t)raw;
	if (klen == 0)
		return evk__err(err, EVK_EINVAL, 1, "empty key");
	if (evk_utf8_check(arg, klen, &bad) < 0)
		return evk__err(err, EVK_EUTF8, bad + 1,
		    "invalid UTF-8 in key");
	if ((rc = value(kv, arg, eq + 1, raw, &val, err)) < 0) {
		evk_buf_free(&val);
		return rc;
	}
	/* Walk the dotted path, creating objects on the way. */
	for (seg = arg; seg < arg + klen; seg = dot + 1) {
		dot = memchr(seg, '.', (size_t)(arg + klen - seg));
		if (dot == NULL)
			dot = arg + klen;
		if (dot == seg || (dot < arg + klen && dot + 1 == arg + klen)) {
			rc = evk__err(err, EVK_EINVAL, (size_t)(dot - arg) + 1,
			    "empty key segment");
			break;
		}
		if (++depth > EVK_KV_MAX_NEST) {
			rc = evk__err(err, EVK_EINVAL, (size_t)(seg - arg) + 1,
			    "key nested deeper than %d", EVK_KV_MAX_NEST);
			break;
		}
		if (kv->n[at].val != NULL) {
			rc = evk__err(err, EVK_EINVAL, 1,
			    "\"%.*s\" is a value, not an object",
			    (int)(seg - 1 - arg), arg);
			break;
		}
		if ((at = child(kv, at, seg, (size_t)(dot - seg), &added)) <
		    0) {
			rc = evk__err(err, EVK_ENOMEM, 0, "out of memory");
			break;
		}
	}
	if (rc == 0 && kv->n[at].child >= 0)
		rc = evk__err(err, EVK_EINVAL, 1, "\"%.*s\" is an object",
		    (int)klen, arg);
	if (rc == 0 && !added)
		rc = evk__err(err, EVK_EINVAL, 1, "duplicate key \"%.*s\"",
		    (int)klen, arg);
	if (rc < 0) {
		evk_buf_free(&val);
		return rc;
	}
	kv->n[at].val = val.p; /* the buffer's memory moves into the node */
	kv->n[at].vlen = val.len;
	kv->count++;
	return 0;
}

static int
write_node(const struct evk_kv *kv, int i, struct evk_buf *out)
{
	const struct node *nd = &kv->n[i];
	int c, rc = 0;

	if (nd->val != NULL)
		return evk_buf_add(out, nd->val, nd->vlen);
	rc = evk_buf_add(out, "{", 1);
	for (c = nd->child; rc == 0 && c >= 0; c = kv->n[c].next) {
		if (c != nd->child)
			rc = evk_buf_add(out, ",", 1);
		if (rc == 0)
			rc = evk_json_escape(out, kv->n[c].key,
			    strlen(kv->n[c].key));
		if (rc == 0)
			rc = evk_buf_add(out, ":", 1);
		if (rc == 0)
			rc = write_node(kv, c, out);
	}
	return rc == 0 ? evk_buf_add(out, "}", 1) : rc;
}

int
evk_kv_write(const struct evk_kv *kv, struct evk_buf *out)
{
	return write_node(kv, 0, out);
}
