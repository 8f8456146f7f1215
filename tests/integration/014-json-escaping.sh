#!/bin/sh
# Whatever the store holds, --json is valid JSON (control characters
# escaped, invalid UTF-8 replaced, numbers as numbers, Inf as null) and a
# text table keeps one line per row (newlines and long values shortened
# with an ellipsis, control characters shown as '?').
. "$top_srcdir/tests/integration/lib.sh"

populate .

q() {
	run "$SMITHERS" db query "$@"
	expect_rc 0
}

# ---- JSON
q --json "select char(1, 9, 10, 13, 27, 127) as c, '\"\\/' as q,
	'caf' || char(233) || ' ' || char(128512) as u,
	char(8232, 8233) as sep, '' as empty"
json 'j == [{"c": "\u0001\t\n\r\u001b\u007f", "q": "\"\\/",
             "u": "caf\u00e9 \U0001F600", "sep": "\u2028\u2029",
             "empty": ""}]'
grep -q '\\u0001\\t\\n\\r\\u001b\\u007f' "$OUT" || fail "not escaped as expected"
grep -q '\\u2028\\u2029' "$OUT" || fail "U+2028 and U+2029 not escaped"
# Invalid UTF-8 in text: each bad byte becomes U+FFFD, the rest is kept
# (json() decodes stdout as strict UTF-8).
q --json "select cast(x'ff41c328e282' as text) as bad,
	cast(x'eda080' as text) as surrogate, cast(x'c0af' as text) as overlong"
json 'j == [{"bad": "\ufffdA\ufffd(\ufffd\ufffd", "surrogate": "\ufffd" * 3,
             "overlong": "\ufffd\ufffd"}]'
# Numbers.
q --json "select 9223372036854775807 as big, -42 as neg, 0.5 as half,
	1.5e-7 as small, 1e300 * 1e300 as inf, -1e300 * 1e300 as ninf,
	x'00ff' as blob"
json 'j == [{"big": 9223372036854775807, "neg": -42, "half": 0.5,
             "small": 1.5e-7, "inf": None, "ninf": None, "blob": "x\u002700ff\u0027"}]'
# Column names are escaped too.
q --json "select 1 as \"a\"\"b\", 2 as \"line
break\""
json 'j == [{"a\"b": 1, "line\nbreak": 2}]'
# JSON columns are embedded, nested as they are.
q --json "select value from state where key = 'notes'"
json 'j == [{"value": "tab\there\nnew line \u0001 \"quoted\" caf\u00e9"}]'
run "$SMITHERS" db execution 1 --json
json 'j["config"] == {"max_parallel": 2}'

# ---- text tables: one line per row, whatever the values
q "select 'first' || char(10) || 'second' as nl, 'x' as after
   union all select 'tab' || char(9) || 'bed', 'y'
   union all select 'esc' || char(27) || '[31mred', 'z'
   union all select substr(hex(zeroblob(60)), 1, 100), 'w'
   union all select cast(x'ff41' as text), 'v'
   union all select 'trailing newline' || char(10), 'u'"
[ "$(wc -l <"$OUT")" -eq 7 ] || fail "a row spans lines"
! grep -q "$(printf '\033')" "$OUT" || fail "an escape character got out"
! grep -q "$(printf '\t')" "$OUT" || fail "a tab got out"
grep -Eq '^first… +x$' "$OUT" || fail "a newline is not shortened"
grep -Eq '^tab bed +y$' "$OUT" || fail "a tab is not a space"
grep -Eq '^esc\?\[31mred +z$' "$OUT" || fail "ESC is not '?'"
grep -Eq '^0{39}… +w$' "$OUT" || fail "a long value is not cut at 40"
grep -Eq '^�A +v$' "$OUT" || fail "bad UTF-8 is not U+FFFD"
grep -Eq '^trailing newline +u$' "$OUT" || fail "a final newline shows"
# The last column starts at the same display column on every line.
"$PYTHON" -c 'import sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
sys.exit(len({l.rindex("  ") for l in lines}) != 1)' "$OUT" ||
	fail "columns do not line up"
# Wide characters count two columns.
q "select char(26085, 26412) as w, 'x' as n union all select 'abcd', 'y'"
[ "$(sed -n 2p "$OUT")" = "日本  x" ] || fail "wide characters misaligned"
[ "$(sed -n 3p "$OUT")" = "abcd  y" ] || fail "wide characters misaligned"

# Outside a UTF-8 locale: ASCII only.
LC_ALL=C
export LC_ALL
q "select 'caf' || char(233) as u, substr(hex(zeroblob(60)), 1, 100) as long"
grep -Eq '^caf\? +0{37}\.\.\.$' "$OUT" || fail "not ASCII in the C locale"
q --json "select 'caf' || char(233) as u"
json 'j == [{"u": "caf\u00e9"}]'
exit 0
