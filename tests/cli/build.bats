#!/usr/bin/env bats
# make install puts everything where PREFIX and DESTDIR say, and the
# installed library is usable through pkg-config.

bats_require_minimum_version 1.5.0

setup() {
	T=$(mktemp -d)
}

teardown() {
	rm -rf "$T"
}

@test "make install PREFIX DESTDIR: programs, man pages, library, headers, evkit.pc" {
	run make -s install PREFIX=/opt/evk DESTDIR="$T"
	[ "$status" -eq 0 ]
	[ -x "$T/opt/evk/bin/evpub" ]
	[ -f "$T/opt/evk/share/man/man1/evpub.1" ]
	[ -f "$T/opt/evk/share/man/man7/evkit.7" ]
	[ -f "$T/opt/evk/lib/libevkit.a" ]
	[ -f "$T/opt/evk/lib/libevkit.so.0.1.0" ]
	[ "$(readlink "$T/opt/evk/lib/libevkit.so.0")" = libevkit.so.0.1.0 ]
	[ "$(readlink "$T/opt/evk/lib/libevkit.so")" = libevkit.so.0 ]
	readelf -d "$T/opt/evk/lib/libevkit.so.0.1.0" | grep -q 'SONAME.*\[libevkit.so.0\]'
	[ -f "$T/opt/evk/include/evkit/event.h" ]
	grep -qx 'prefix=/opt/evk' "$T/opt/evk/lib/pkgconfig/evkit.pc"
	run "$T/opt/evk/bin/evpub" --version
	[ "$status" -eq 0 ]
}

@test "a program builds against the installed library with pkg-config" {
	make -s install PREFIX=/opt/evk DESTDIR="$T"
	cat > "$T/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <evkit/event.h>
#include <evkit/json.h>

int
main(void)
{
	struct evk_envelope_attrs a = {"//t/use", "x.y", NULL, "application/json"};
	struct evk_envelope *e = evk_envelope_new(&a, NULL);
	struct evk_idgen *g = evk_idgen_new();
	struct evk_buf out = EVK_BUF_ZERO;
	struct evk_span s;
	int rc;

	evk_envelope_write(e, g, NULL, "[1]", 3, &out);
	s.p = out.p;
	s.len = out.len;
	puts(out.p);
	rc = evk_event_validate(s, NULL) != 0;
	evk_buf_free(&out);
	evk_idgen_free(g);
	evk_envelope_free(e);
	return rc;
}
C
	export PKG_CONFIG_PATH="$T/opt/evk/lib/pkgconfig"
	pc() { pkg-config --define-prefix --define-variable=prefix="$T/opt/evk" "$@" evkit; }
	# Static, then shared (run with the installed .so).
	# SANFLAGS: the library is instrumented in "make test SAN=1".
	cc ${SANFLAGS:-} -o "$T/use" "$T/use.c" $(pc --cflags) "$T/opt/evk/lib/libevkit.a" \
	    $(pkg-config --libs jansson libpcre2-8 libsodium)
	run "$T/use"
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<< "$output")" = x.y ]
	cc ${SANFLAGS:-} -o "$T/use-so" "$T/use.c" $(pc --cflags) $(pc --libs)
	LD_LIBRARY_PATH="$T/opt/evk/lib" run "$T/use-so"
	[ "$status" -eq 0 ]
	[ "$(jq -c .data <<< "$output")" = '[1]' ]
}

# Runs make as an unprivileged user (when we are root), so that "make deps"
# takes its non-root path.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}

@test "missing dependencies: make prints the exact apt-get command and stops" {
	run as_user make --no-print-directory -f "$PWD/Makefile" -C "$PWD" \
	    deps-check PKG_CONFIG=/bin/false
	[ "$status" -ne 0 ]
	[[ "$output" == *"evkit: missing dependencies; run this, then make again:"* ]]
	[[ "$output" == *"  sudo apt-get install -y build-essential pkg-config libjansson-dev libpcre2-dev libsodium-dev"* ]]
}

@test "present dependencies: deps-check does nothing" {
	run as_user make --no-print-directory -C "$PWD" deps-check
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
