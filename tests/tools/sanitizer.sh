#!/usr/bin/env bash
# The ASan case: a sanitizer that owns malloc is in the process together with
# pcmalloc, which must step aside (tests/tools/sanitizer_prog.c says what
# that means and checks it from inside).
#   sanitizer.sh BUILD
set -u
cd "$(dirname "$0")/../.."
build=$1
lib=$PWD/$build/libpcmalloc.so
bins=$build/tests/tools
fail=0
# expect NAME WANT_EXIT GREP_PATTERN CMD...: the command's exit status and a
# line of its output.
expect() {
	local name=$1 want=$2 pat=$3
	shift 3
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	echo "== $name: exit $rc"
	sed 's/^/   /' <<<"$out" | tail -n 12
	if [ "$rc" -ne "$want" ] || ! grep -qE "$pat" <<<"$out"; then
		echo "sanitizer.sh: $name: want exit $want and '$pat'"
		fail=1
	fi
}
done_line="sanitizer_prog: done, the sanitizer's heap throughout"
# ASan loaded after pcmalloc: ASan refuses by itself, with its own message.
expect "ASan, pcmalloc preloaded" 1 "ASan runtime does not come first" \
	env LD_PRELOAD="$lib" "$bins/sanitizer_prog.address"
# ... unless told not to check: then pcmalloc must step aside.
expect "ASan, pcmalloc preloaded, verify_asan_link_order=0" 0 "$done_line" \
	env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$lib" "$bins/sanitizer_prog.address"
expect "ASan, pcmalloc preloaded, heap overflow" 1 "AddressSanitizer: heap-buffer-overflow" \
	env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$lib" "$bins/sanitizer_prog.address" overflow
expect "ASan preloaded first, then pcmalloc" 0 "$done_line" \
	env LD_PRELOAD="$("${CC:-cc}" -print-file-name=libasan.so) $lib" "$bins/sanitizer_prog.address"
expect "TSan, pcmalloc preloaded" 0 "$done_line" \
	env LD_PRELOAD="$lib" "$bins/sanitizer_prog.thread"
expect "LSan, pcmalloc preloaded" 0 "$done_line" \
	env LD_PRELOAD="$lib" "$bins/sanitizer_prog.leak"
[ $fail -eq 0 ] && echo "sanitizer.sh: pcmalloc stepped aside every time"
exit $fail
