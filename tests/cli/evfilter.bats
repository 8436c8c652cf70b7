#!/usr/bin/env bats
# evfilter: the options, the language end to end, every kind of bad input,
# the prefilter rule, errors in expressions, and the output's edge cases.

bats_require_minimum_version 1.5.0

setup() {
	T=$(mktemp -d)
	cat > "$T/ev" <<'EOF'
{"type":"order.created","id":1,"data":{"amount":59.90,"sku":"A1"}}
{"type":"order.created.eu","id":2,"data":{"amount":250,"sku":"B7"}}
{"type":"order.paid","id":3,"data":{"amount":250}}
{"type":"refund.issued","id":4,"data":{"amount":150}}
{"type":"auth.failure","id":5,"data":{"user":"ada"}}
{"type":"order","id":6}
EOF
}

teardown() {
	rm -rf "$T"
}

# The ids of the events of $T/ev that evfilter selects with the given
# arguments, comma-separated ("" when none).
ids() {
	evfilter "$@" "$T/ev" | jq -r .id | paste -sd, -
}

# An error in an expression: EXPR is refused with "column COL: MSG", the
# expression, and a caret under byte COL (EXPR is ASCII here); exit 2 and
# nothing on stdout.
expr_error() {
	local expr=$1 col=$2 msg=$3 caret
	caret=$(printf '  %*s^' $((col - 1)) '')
	run --separate-stderr evfilter "$expr" < /dev/null
	echo "# $expr -> $stderr"
	[ "$status" -eq 2 ]
	[ -z "$output" ]
	diff <(printf '%s\n' "$stderr") \
	    <(printf '%s\n' "evfilter: column $col: $msg" "  $expr" "$caret")
}

@test "--help and --version" {
	run --separate-stderr evfilter --help
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == "usage: evfilter [options] EXPR [FILE ...]"* ]]
	[[ "$output" == *--dead-letter* ]]
	[[ "$output" == *"Exit status: 0 something matched, 1 nothing matched, 2 error."* ]]
	run --separate-stderr evfilter -h
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	run --separate-stderr evfilter --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^evfilter\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run --separate-stderr evfilter -V
	[[ "$output" =~ ^evfilter\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "usage errors exit 2 before reading" {
	run --separate-stderr evfilter < /dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: no expression (EXPR, -e EXPR or -t PATTERN)
Try 'evfilter --help' for more information." ]
	run --separate-stderr evfilter -c -q type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: -c and -q exclude each other"* ]]
	run --separate-stderr evfilter -n 0 type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: -n 0: too small"* ]]
	run --separate-stderr evfilter -n 5x type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: -n 5x: invalid number"* ]]
	run --separate-stderr evfilter --max-line 2G type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: --max-line 2G: too large"* ]]
	run --separate-stderr evfilter --max-depth 0 type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: --max-depth 0: too small"* ]]
	run --separate-stderr evfilter --bogus type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"Try 'evfilter --help' for more information." ]]
	# getopt's messages name the program, also when run by its path.
	run --separate-stderr "$(command -v evfilter)" --bogus type < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: unrecognized option '--bogus'"* ]]
	run --separate-stderr evfilter --dead-letter "$T/no/such/dir" type < /dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: $T/no/such/dir: No such file or directory" ]
}

@test "EXPR keeps the matching events, exit 0; none matching, exit 1" {
	run --separate-stderr evfilter 'data.amount > 100' "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" = "$(sed -n '2,4p' "$T/ev")" ]
	run --separate-stderr evfilter 'data.amount > 1000' "$T/ev"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# From standard input too, and with "-" as the file.
	run --separate-stderr evfilter 'id == 5' < "$T/ev"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n 5p "$T/ev")" ]
	run --separate-stderr evfilter 'id == 5' - < "$T/ev"
	[ "$output" = "$(sed -n 5p "$T/ev")" ]
}

@test "-e: several expressions must all hold; with -e every operand is a file" {
	[ "$(ids -e 'data.amount >= 150' -e 'type startswith "order"')" = 2,3 ]
	[ "$(ids -e 'data.amount >= 150' -e 'type startswith "order"' \
	    -e 'data.sku == "B7"')" = 2 ]
	[ "$(ids --expr 'id < 3')" = 1,2 ]
	# The operand after -e is a file, not an expression.
	run --separate-stderr evfilter -e 'id == 1' 'id == 2' < /dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: id == 2: No such file or directory" ]
}

@test "-t: topic patterns, several ORed, * is one token, > one or more" {
	[ "$(ids -t order.created)" = 1 ]
	[ "$(ids -t 'order.*')" = 1,3 ]
	[ "$(ids -t 'order.>')" = 1,2,3 ]
	[ "$(ids -t '*')" = 6 ]
	[ "$(ids -t '>')" = 1,2,3,4,5,6 ]
	[ "$(ids -t '*.*.eu')" = 2 ]
	[ "$(ids -t 'order.cr*')" = "" ]
	[ "$(ids -t order.paid -t 'refund.>' -t auth.failure)" = 3,4,5 ]
	[ "$(ids --topic 'auth.*')" = 5 ]
	[ "$(ids 'topic("order.*") || topic("refund.>")')" = 1,3,4 ]
	run --separate-stderr evfilter -t 'order.>' "$T/ev"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n '1,3p' "$T/ev")" ]
}

@test "-t and -e combined: (any topic) && (every expression)" {
	[ "$(ids -t 'order.>' -t 'refund.>' -e 'data.amount > 100')" = 2,3,4 ]
	[ "$(ids -t 'order.>' -t 'refund.>' -e 'data.amount > 100' \
	    -e 'data.amount < 200')" = 4 ]
	[ "$(ids -e 'data.amount > 100' -t 'order.*')" = 3 ]
}

@test "paths: nested members, indexes from either end, odd keys, keywords, the whole event" {
	printf '%s\n' '{"type":"a","data":{"items":[{"sku":"A1"},{"sku":"B2"}],"odd key":1,"in":true,"x-y":2,"é":3}}' > "$T/p"
	for e in 'data.items[0].sku == "A1"' 'data.items[-1].sku == "B2"' \
	    'data.items[-2].sku == "A1"' 'data["odd key"] == 1' '.data.in' \
	    'data.in == true' 'data["x-y"] == 2' 'data["\u00e9"] == 3' \
	    '.type == "a"' 'type(.) == "object"' '.["type"] == "a"' \
	    'data . items [ 1 ] . sku == "B2"' 'len(data.items) == 2'; do
		run --separate-stderr evfilter "$e" "$T/p"
		echo "# $e: $status"
		[ "$status" -eq 0 ]
	done
	for e in 'data.items[2]' 'data.items[-3]' 'data.items.sku' \
	    'data.items[0][0]' 'type.x' 'data["in"] == 1' 'nothing'; do
		run --separate-stderr evfilter "$e" "$T/p"
		echo "# $e: $status"
		[ "$status" -eq 1 ]
	done
}

@test "-v, -c and -c with nothing selected" {
	[ "$(ids -v -t 'order.>')" = 4,5,6 ]
	[ "$(ids --invert 'exists(data)')" = 6 ]
	run --separate-stderr evfilter -c -t 'order.>' "$T/ev"
	[ "$status" -eq 0 ]
	[ "$output" = 3 ]
	run --separate-stderr evfilter --count -v -t 'order.>' "$T/ev"
	[ "$output" = 3 ]
	run --separate-stderr evfilter -c 'id > 99' "$T/ev"
	[ "$status" -eq 1 ]
	[ "$output" = 0 ]
	[ -z "$stderr" ]
}

@test "-n N: stops after N selected events, and stops reading" {
	[ "$(ids -n 2 'data.amount > 100')" = 2,3 ]
	[ "$(ids --max-count 1 -v 'exists(data.sku)')" = 3 ]
	run --separate-stderr evfilter -c -n 2 'id > 0' "$T/ev"
	[ "$output" = 2 ]
	# An endless producer: only stopping to read lets evfilter end.
	run --separate-stderr timeout 20 bash -c \
	    'yes '\''{"type":"x"}'\'' | evfilter -n 3 "type == \"x\""'
	[ "$status" -eq 0 ]
	[ "$output" = $'{"type":"x"}\n{"type":"x"}\n{"type":"x"}' ]
	# A FIFO held open by the writer: evfilter ends without end of input.
	mkfifo "$T/fifo"
	evfilter -n 1 'a == 1' < "$T/fifo" > "$T/out" 3>&- &
	pid=$!
	exec 4> "$T/fifo"
	printf '{"a":0}\n{"a":1}\n' >&4
	for i in $(seq 1 200); do
		kill -0 "$pid" 2> /dev/null || break
		sleep 0.05
	done
	alive=0
	kill -0 "$pid" 2> /dev/null && alive=1
	[ "$alive" -eq 1 ] && kill "$pid"
	rc=0; wait "$pid" || rc=$?
	exec 4>&-
	[ "$alive" -eq 0 ]
	[ "$rc" -eq 0 ]
	[ "$(cat "$T/out")" = '{"a":1}' ]
}

@test "-q: exit 0 on a match, 1 without, 0 with a match even after a missing file" {
	run --separate-stderr evfilter -q 'id == 3' "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	run --separate-stderr evfilter --quiet 'id == 99' "$T/ev"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	run --separate-stderr evfilter -q 'id == 3' "$T/missing" "$T/ev"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$stderr" = "evfilter: $T/missing: No such file or directory" ]
	# Without a match the missing file makes it 2.
	run --separate-stderr evfilter -q 'id == 99' "$T/missing" "$T/ev"
	[ "$status" -eq 2 ]
	# It stops at the first match: an endless producer ends.
	run --separate-stderr timeout 20 bash -c \
	    'yes '\''{"a":1}'\'' | evfilter -q a'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "--line-buffered: each event is out before the next line comes" {
	coproc EVF { evfilter --line-buffered 'n > 1'; }
	pid=$EVF_PID
	echo '{"n":1}' >&"${EVF[1]}"
	echo '{"n":2}' >&"${EVF[1]}"
	read -r -t 10 line <&"${EVF[0]}"
	[ "$line" = '{"n":2}' ]
	echo '{"n":3}' >&"${EVF[1]}"
	read -r -t 10 line <&"${EVF[0]}"
	[ "$line" = '{"n":3}' ]
	exec {EVF[1]}>&-
	wait "$pid" 2> /dev/null || true
}

@test "files: -f FILE and operands, names in messages, a missing file is 2 and the others are read" {
	printf '{"n":1}\n' > "$T/a"
	printf '{x\n{"n":2}\n' > "$T/b"
	run --separate-stderr evfilter n "$T/a" "$T/missing" "$T/b"
	[ "$status" -eq 2 ]
	[ "$output" = $'{"n":1}\n{"n":2}' ]
	[ "$stderr" = "evfilter: $T/missing: No such file or directory
evfilter: $T/b:1: invalid JSON: unexpected 'x' at column 2" ]
	# -f files first, in order, then the operands.
	run --separate-stderr evfilter -f "$T/b" --file "$T/a" n "$T/b"
	[ "$status" -eq 0 ]
	[ "$output" = $'{"n":2}\n{"n":1}\n{"n":2}' ]
	# "-" is standard input, "line N" in messages as evkit(7) says.
	run --separate-stderr evfilter n "$T/a" - < "$T/b"
	[ "$status" -eq 0 ]
	[ "$output" = $'{"n":1}\n{"n":2}' ]
	[ "$stderr" = "evfilter: line 1: invalid JSON: unexpected 'x' at column 2" ]
	# A directory cannot be read: an error, the others still read.
	run --separate-stderr evfilter n "$T" "$T/a"
	[ "$status" -eq 2 ]
	[ "$output" = '{"n":1}' ]
	[ "$stderr" = "evfilter: $T: read: Is a directory" ]
}

@test "output is the input, byte for byte: spacing, key order, escapes, CRLF, no final newline" {
	{
		printf '{ "b" : 2 , "a" : "\\u00e9\\u0041" }\n'
		printf '{"z":1,"a":[1.50,1e2,-0.0],"s":"\\/\\t\\""}\r\n'
		printf ' \t{"a":"é😀"} \t\n'
		printf '{"a":null}\n'
		printf '{"a":123456789012345678901234567890}'
	} > "$T/in"
	evfilter 'exists(a)' "$T/in" > "$T/out"
	# The same bytes; the last line had no newline: it gets one.
	cmp <(cat "$T/in"; printf '\n') "$T/out"
	# The CRLF line keeps its carriage return.
	[ "$(evfilter 'z == 1' "$T/in" | tail -c 3 | od -An -c | tr -d ' ')" = '}\r\n' ]
	# Escapes are decoded for the comparison, not in the output.
	run evfilter 'a == "éA"' "$T/in"
	[ "$output" = '{ "b" : 2 , "a" : "\u00e9\u0041" }' ]
	run evfilter 's == "/\t\""' "$T/in"
	[ "$status" -eq 0 ]
}

@test "bad lines: each kind reported with its line, the good ones around still flow" {
	{
		printf '{"n":1}\n'
		printf '{"n":\n'                  # 2 malformed
		printf '{"n":"\xff"}\n'           # 3 invalid UTF-8
		printf '{"n":3}\r\n'              # 4 good, CRLF
		printf '{"n":\0}\n'               # 5 NUL
		printf '{"n":%s}\n' "$(printf '1%.0s' $(seq 1 200))"  # 6 too long
		printf '{"n":1,"n":2}\n'          # 7 duplicate key
		printf '{"n":[[[1]]]}\n'          # 8 too deep
		printf '[1]\n'                    # 9 not an object
		printf '"n"\n'                    # 10 not an object
		printf ' \n'                      # 11 blank: no event, skipped
		printf '{"n":5}\n'                # 12
		printf '{"n":6'                   # 13 truncated last line
	} > "$T/in"
	want_err="evfilter: line 2: invalid JSON: unexpected end of input at column 6
evfilter: line 3: invalid JSON: invalid UTF-8 at column 7
evfilter: line 5: NUL byte in line
evfilter: line 6: line too long (206 bytes, limit 100)
evfilter: line 7: invalid JSON: duplicate key \"n\" at column 8
evfilter: line 8: invalid JSON: nested deeper than 3 at column 8
evfilter: line 9: not a JSON object
evfilter: line 10: not a JSON object
evfilter: line 13: invalid JSON: unexpected end of input at column 7"
	opts=(--max-line 100 --max-depth 3)
	run --separate-stderr evfilter "${opts[@]}" n < "$T/in"
	[ "$status" -eq 0 ]
	diff <(echo "$stderr") <(echo "$want_err")
	[ "$output" = $'{"n":1}\n{"n":3}\r\n{"n":5}' ]
	# Nothing selected: 1, the same reports.
	run --separate-stderr evfilter "${opts[@]}" 'n > 100' < "$T/in"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	diff <(echo "$stderr") <(echo "$want_err")
	# --strict: 2, the same output.
	run --separate-stderr evfilter "${opts[@]}" --strict n < "$T/in"
	[ "$status" -eq 2 ]
	[ "$output" = $'{"n":1}\n{"n":3}\r\n{"n":5}' ]
	diff <(echo "$stderr") <(echo "$want_err")
	# A file's name is in the messages.
	run --separate-stderr evfilter "${opts[@]}" n "$T/in"
	[ "$(sed -n 1p <<< "$stderr")" = \
	    "evfilter: $T/in:2: invalid JSON: unexpected end of input at column 6" ]
}

@test "--dead-letter keeps the rejected lines verbatim, CRLF and over-long ones included" {
	{
		printf '{"n":1}\n'
		printf '{"n":\r\n'                # 2 malformed, CRLF
		printf '{"n":%s}\n' "$(printf '1%.0s' $(seq 1 200))"  # 3 too long
		printf 'a\0b\r\n'                 # 4 NUL, CRLF
		printf '[1]\n'                    # 5 not an object
		printf '{"n":2}\n'
		printf '{"n":6'                   # 7 truncated last line
	} > "$T/in"
	run --separate-stderr evfilter --max-line 100 --dead-letter "$T/dead" n < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = $'{"n":1}\n{"n":2}' ]
	[ "$(echo "$stderr" | wc -l)" -eq 5 ]
	{ sed -n '2,5p;7p' "$T/in"; } > "$T/want"
	printf '\n' >> "$T/want"   # the truncated line gets its newline
	cmp "$T/dead" "$T/want"
	# Appended to, not replaced.
	evfilter --max-line 100 --dead-letter "$T/dead" n < "$T/in" 2> /dev/null
	[ "$(wc -l < "$T/dead")" -eq 10 ]
}

@test "the prefilter: a bad line that cannot match is not reported, unless --strict, --dead-letter or -v" {
	printf '%s\n' '{"type":"order.created","n":1}' '{"type":"order.paid",' \
	    '{"type":"order.created",' '{"type":"order.shipped"}' \
	    '{"type":"order.created","n":2}' > "$T/in"
	m3="evfilter: line 3: invalid JSON: unexpected end of input at column 25"
	m2="evfilter: line 2: invalid JSON: unexpected end of input at column 22"
	# Line 2 cannot hold "order.created": skipped unparsed, unreported.
	run --separate-stderr evfilter 'type == "order.created"' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n '1p;5p' "$T/in")" ]
	[ "$stderr" = "$m3" ]
	run --separate-stderr evfilter -t order.created < "$T/in"
	[ "$stderr" = "$m3" ]
	run --separate-stderr evfilter -c 'type == "order.created" && n > 0' < "$T/in"
	[ "$output" = 2 ]
	[ "$stderr" = "$m3" ]
	# Every line is checked with --strict, --dead-letter or -v.
	run --separate-stderr evfilter --strict 'type == "order.created"' < "$T/in"
	[ "$status" -eq 2 ]
	[ "$output" = "$(sed -n '1p;5p' "$T/in")" ]
	[ "$stderr" = "$m2"$'\n'"$m3" ]
	run --separate-stderr evfilter --dead-letter "$T/dead" 'type == "order.created"' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$stderr" = "$m2"$'\n'"$m3" ]
	[ "$(cat "$T/dead")" = "$(sed -n '2,3p' "$T/in")" ]
	run --separate-stderr evfilter -v 'type == "order.created"' < "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = '{"type":"order.shipped"}' ]
	[ "$stderr" = "$m2"$'\n'"$m3" ]
	# A \u escape could spell the string: such a line is always parsed.
	printf '%s\n' '{"type":"order\u002ecreated"}' '{"type":"x\u0020",' |
	    evfilter 'type == "order.created"' > "$T/out" 2> "$T/err" || true
	[ "$(cat "$T/out")" = '{"type":"order\u002ecreated"}' ]
	[ "$(cat "$T/err")" = "evfilter: line 2: invalid JSON: unexpected end of input at column 19" ]
	# No prefilter string: every line is parsed.
	run --separate-stderr evfilter 'exists(type)' < "$T/in"
	[ "$stderr" = "$m2"$'\n'"$m3" ]
	# Over-long lines and NUL bytes are found before the prefilter.
	printf '{"x":"%s"}\n{"x":\0}\n{"type":"order.created"}\n' \
	    "$(printf 'y%.0s' $(seq 1 50))" > "$T/in2"
	run --separate-stderr evfilter --max-line 30 'type == "order.created"' < "$T/in2"
	[ "$status" -eq 0 ]
	[ "$output" = '{"type":"order.created"}' ]
	[ "$stderr" = "evfilter: line 1: line too long (58 bytes, limit 30)
evfilter: line 2: NUL byte in line" ]
}

@test "errors in expressions: column, message and caret, exit 2" {
	expr_error 'type == "a")' 12 "unexpected ')' (no '(' to close)"
	expr_error '(type == "a"' 13 "missing ')'"
	expr_error 'type == "abc' 9 'unterminated string'
	expr_error 'size(data) > 1' 1 "unknown function 'size'"
	expr_error 'type =~ /(/' 11 'invalid regex: missing closing parenthesis'
	expr_error 'type =~ /a/g' 12 "unknown regex flag 'g' (i, m, s, x)"
	expr_error 'topic("a..b")' 7 'topic pattern: empty token in topic'
	expr_error 'topic(type)' 7 'topic() takes a "pattern"'
	expr_error '5m > 1' 1 "a duration only goes after '+' or '-' with a time"
	expr_error 'time > now() - 5' 16 "a duration (like 10m) must follow '-'"
	expr_error 'time > now() - 5min' 17 'unknown duration unit (use ns, us, ms, s, m, h or d)'
	expr_error 'x == [1]' 6 "a [...] list only goes after 'in'"
	expr_error 'a == b == c' 8 'comparisons do not chain: use && or parentheses'
	expr_error 'a < b > c' 7 'comparisons do not chain: use && or parentheses'
	expr_error '' 1 'empty expression'
	expr_error '   ' 1 'empty expression'
	expr_error 'a &&' 5 'unexpected end of expression'
	expr_error 'a ==' 5 'unexpected end of expression'
	expr_error 'a = 1' 3 "unexpected '='"
	expr_error 'x in [1,]' 9 "unexpected ']'"
	expr_error 'exists(a == 1)' 1 'exists() takes a path'
	expr_error 'now(1)' 5 'now() takes no argument'
	expr_error 'len(x' 6 "expected ')' to close len("
	expr_error 'a.' 3 "expected a name after '.'"
	expr_error 'a[x]' 3 'expected an index or a "key" in [ ]'
	expr_error 'x == 01' 6 "invalid number '01'"
	expr_error 'x == "\q"' 7 "invalid string: invalid escape '\\q'"
	expr_error 'x == 2024-01-01' 6 "invalid time '2024-01-01'"
	expr_error 'x =~ abc' 6 "expected /regex/ after '=~'"
	expr_error 'x =~ /abc' 6 'unterminated regular expression'
	expr_error 'x-y == 1' 3 "a duration (like 10m) must follow '-'"
}

@test "errors in expressions: the caret counts characters, -e and -t are checked too" {
	run --separate-stderr evfilter 'a == "é" && b €' < /dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: column 16: unexpected byte 0xe2
  a == \"é\" && b €
                ^" ]
	run --separate-stderr evfilter -e 'a' -e 'b ==' < /dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: column 5: unexpected end of expression
  b ==
      ^" ]
	run --separate-stderr evfilter -t 'order..x' < /dev/null
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: -t order..x: empty token in topic
Try 'evfilter --help' for more information." ]
	run --separate-stderr evfilter -t 'a.>.b' < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: -t a.>.b: "* ]]
	# Nesting is bounded.
	run --separate-stderr evfilter "$(printf '(%.0s' $(seq 1 250))x" < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: column 202: expression nested too deep"* ]]
}

@test "type rules: no coercion, absent is not null, exact integers, times as instants" {
	recent=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%SZ)
	recent_off=$(TZ=UTC-2 date -d '-10 minutes' +%Y-%m-%dT%H:%M:%S%:z)
	cat > "$T/ev" <<EOF
{"id":1,"s":"10","n":10}
{"id":2,"n":9007199254740993}
{"id":3,"n":9007199254740992}
{"id":4,"t":"2024-01-01T01:00:00+01:00","x":null}
{"id":5,"t":"2024-01-01T00:00:00Z","x":"X"}
{"id":6,"t":"2023-12-31T23:59:59.999999999Z","x":"x"}
{"id":7,"t":"$recent","n":1.0}
{"id":8,"t":"$recent_off","n":[1,{"a":1,"b":2}]}
{"id":9,"t":"noon","n":[1.0,{"b":2,"a":1}]}
EOF
	# No coercion between types.
	[ "$(ids 's == 10')" = "" ]
	[ "$(ids 's != 10')" = 1,2,3,4,5,6,7,8,9 ]
	[ "$(ids 's < 20 || s > 0')" = "" ]
	[ "$(ids 's == "10"')" = 1 ]
	[ "$(ids 'n == 10')" = 1 ]
	# Absent: every comparison false, except !=.
	[ "$(ids 'x != "X"')" = 1,2,3,4,6,7,8,9 ]
	[ "$(ids 'x == null')" = 4 ]
	[ "$(ids '!exists(x)')" = 1,2,3,7,8,9 ]
	[ "$(ids 'type(x) == "absent"')" = 1,2,3,7,8,9 ]
	# Integers are exact, against doubles too.
	[ "$(ids 'n == 9007199254740993')" = 2 ]
	[ "$(ids 'n == 9007199254740992')" = 3 ]
	[ "$(ids 'n == 9007199254740992.0')" = 3 ]
	[ "$(ids 'n > 9007199254740992.0')" = 2 ]
	[ "$(ids 'n == 1')" = 7 ]
	# Arrays and objects structurally, key order ignored; no ordering.
	[ "$(ids 'n == .n && n != 1 && type(n) == "array"')" = 8,9 ]
	printf '%s\n' '{"a":[1,{"x":1,"y":[2]}],"b":[1.0,{"y":[2],"x":1}],"c":[{"x":1,"y":[2]},1]}' > "$T/s"
	evfilter 'a == b && a != c && !(a < b) && !(a >= b)' "$T/s" > /dev/null
	# Strings bytewise; times as instants, across offsets.
	[ "$(ids 'x < "a"')" = 5 ]
	[ "$(ids 't == 2024-01-01T00:00:00Z')" = 4,5 ]
	[ "$(ids 't == "2024-01-01T00:00:00Z"')" = 5 ]
	[ "$(ids 't < 2024-01-01T00:00:00Z')" = 6 ]
	[ "$(ids 'time(t) <= time("2024-01-01T00:00:00Z")')" = 4,5,6 ]
	[ "$(ids 'exists(t) && t != 2024-01-01T00:00:00Z && type(time(t)) == "absent"')" = 9 ]
	[ "$(ids 't > now() - 1h')" = 7,8 ]
	[ "$(ids 't > now() - 1h && t < now()')" = 7,8 ]
	[ "$(ids 't + 2h > now() && t < 2025-01-01T00:00:00Z')" = "" ]
	[ "$(ids 't - 1ns < 2024-01-01T00:00:00Z && t + 1h30m > 2024-01-01T01:29:59.999999999Z')" = 4,5 ]
	# Regular expressions on non-strings: =~ false, !~ true.
	[ "$(ids 'n =~ /1/')" = "" ]
	[ "$(ids 'n !~ /1/')" = 1,2,3,4,5,6,7,8,9 ]
	[ "$(ids 's =~ /^1/ && s !~ /2/')" = 1 ]
	# Functions: len counts code points, absent on numbers; lower is ASCII.
	[ "$(ids 'len(s) == 2 && len(n) != 2 && !(len(n) == 2)')" = 1 ]
	[ "$(ids 'lower(x) == "x"')" = 5,6 ]
	[ "$(ids 'len(n) == 2')" = 8,9 ]
	# Truthiness: a bare path selects where it is not false, null or absent.
	printf '%s\n' '{"v":0}' '{"v":""}' '{"v":false}' '{"v":null}' '{}' '{"v":[]}' |
	    evfilter v > "$T/out"
	[ "$(paste -sd' ' "$T/out")" = '{"v":0} {"v":""} {"v":[]}' ]
}

@test "in, contains, startswith, endswith" {
	printf '%s\n' '{"id":1,"c":"EUR","tags":["vip","new"],"s":"order.created"}' \
	    '{"id":2,"c":"GBP","tags":[],"s":"order"}' \
	    '{"id":3,"c":1,"tags":"vip","s":1}' > "$T/ev"
	[ "$(ids 'c in ["EUR", "USD"]')" = 1 ]
	[ "$(ids 'c in [1.0, "x"]')" = 3 ]
	[ "$(ids 'c in []')" = "" ]
	[ "$(ids 'nothing in [null]')" = "" ]
	[ "$(ids '"vip" in tags')" = 1 ]
	[ "$(ids 'tags contains "vip"')" = 1,3 ]
	[ "$(ids 'tags contains "vi"')" = 3 ]
	[ "$(ids 's contains ""')" = 1,2 ]
	[ "$(ids 's startswith "order"')" = 1,2 ]
	[ "$(ids 's endswith "created"')" = 1 ]
	[ "$(ids 's startswith 1')" = "" ]
}

@test "regular expressions: PCRE2, flags i m s x, \\/ for a slash, UTF-8 characters" {
	printf '%s\n' '{"id":1,"p":"/api/v2/items"}' '{"id":2,"p":"a\nB"}' \
	    '{"id":3,"p":"été"}' '{"id":4,"p":"x12"}' > "$T/ev"
	[ "$(ids 'p =~ /^\/api\/v[0-9]+\//')" = 1 ]
	[ "$(ids 'p =~ /^b$/im')" = 2 ]
	[ "$(ids 'p =~ /^b$/i')" = "" ]
	[ "$(ids 'p =~ /a.b/si')" = 2 ]
	[ "$(ids 'p =~ / x 1 2 # digits/x')" = 4 ]
	[ "$(ids 'p =~ /^...$/')" = 3,4 ]
	[ "$(ids 'p =~ /ÉTÉ/i')" = 3 ]
	[ "$(ids 'p =~ /\d\d/')" = 4 ]
	[ "$(ids 'p !~ /i/')" = 2,3,4 ]
}

@test "a closed downstream ends quietly (| head -1)" {
	seq 1 300000 | sed 's/.*/{"n":&}/' > "$T/big"
	run bash -c 'evfilter n "$1" 2> "$2" | head -1; echo "${PIPESTATUS[0]}"' _ "$T/big" "$T/err"
	[ "$output" = $'{"n":1}\n0' ]
	[ ! -s "$T/err" ]
}

# On EPIPE the status earned so far counts, as in evpub (it once was 0).
@test "a closed downstream keeps the status earned so far (a missing file: 2)" {
	seq 1 300000 | sed 's/.*/{"n":&}/' > "$T/big"
	run bash -c 'evfilter n "$1" "$2" 2> "$3" | head -1 > /dev/null; echo "${PIPESTATUS[0]}"' \
	    _ "$T/missing" "$T/big" "$T/err"
	[ "$(cat "$T/err")" = "evfilter: $T/missing: No such file or directory" ]
	[ "$output" = 2 ]
}

@test "a full disk is an error, exit 2" {
	run --separate-stderr bash -c 'evfilter "id == 1" "$1" > /dev/full' _ "$T/ev"
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: write: No space left on device" ]
	run --separate-stderr bash -c 'evfilter -c "id == 99" "$1" > /dev/full' _ "$T/ev"
	[ "$status" -eq 2 ]
	[ "$stderr" = "evfilter: write: No space left on device" ]
}

@test "a regular expression that hits the match limit rejects the line" {
	a=$(head -c 100 /dev/zero | tr '\0' a)
	printf '{"x":"aa"}\n{"x":"%sb"}\n{"x":"b"}\n' "$a" > "$T/in"
	run --separate-stderr evfilter 'x =~ /(a+)+$/' "$T/in"
	[ "$status" -eq 0 ]
	[ "$output" = '{"x":"aa"}' ]
	[ "$stderr" = "evfilter: $T/in:2: regular expression: match limit reached" ]
}

# Durations are exact integers of nanoseconds (a double once made 1.001s
# 1.000999999s).
@test "a duration with a fraction is exact (1.001s)" {
	printf '%s\n' '{"t":"2024-01-01T00:00:00Z"}' > "$T/in"
	run --separate-stderr evfilter 't + 1.5s == 2024-01-01T00:00:01.5Z' "$T/in"
	[ "$status" -eq 0 ]
	run --separate-stderr evfilter 't + 1.001s == 2024-01-01T00:00:01.001Z' "$T/in"
	[ "$status" -eq 0 ]
	run --separate-stderr evfilter 't - 1.015s == 2023-12-31T23:59:58.985Z' "$T/in"
	[ "$status" -eq 0 ]
}

# The sum of a duration's parts is checked too (it used to wrap around).
@test "a duration too long in total is an error, not a wrap-around" {
	run --separate-stderr evfilter 't + 100000d100000d > t' < /dev/null
	[ "$status" -eq 2 ]
	[[ "$stderr" == "evfilter: column 5: duration too long"* ]]
}

# PCRE2's offset counts each \/ as one byte; the column counts it as
# written.
@test "the column of a regex error counts \\/ as written" {
	expr_error 'p =~ /a)/' 8 'invalid regex: unmatched closing parenthesis'
	expr_error 'p =~ /\/\/\/\/a)/' 16 'invalid regex: unmatched closing parenthesis'
}
