#!/usr/bin/env bash
# Memcheck sees pcmalloc: runs tests/tools/memcheck_seeded.c, linked with
# libpcmalloc.a, under valgrind's memcheck and expects exactly its three
# seeded errors (a 24-byte leak, a read one past a 10-byte block, a read in
# a freed 40-byte block), each attributed to its line, and nothing else.
#
#   memcheck.sh BINARY linked   libpcmalloc.a with the shared libc; valgrind
#                               is told to leave the executable's malloc to
#                               it (--soname-synonyms=somalloc=nouserintercepts;
#                               by default it would put in its own malloc)
#   memcheck.sh BINARY static   gcc -static: valgrind cannot put anything in;
#                               glibc's own static-start-up noise suppressed
#                               (tests/tools/glibc-static.supp)
set -u
cd "$(dirname "$0")/../.."
bin=$1 mode=$2
src=tests/tools/memcheck_seeded.c
opts=(--leak-check=full --errors-for-leak-kinds=definite,possible --num-callers=30)
case $mode in
linked) opts+=(--soname-synonyms=somalloc=nouserintercepts) ;;
static) opts+=(--suppressions=tests/tools/glibc-static.supp) ;;
*) echo "memcheck.sh: mode linked or static"; exit 2 ;;
esac
fail=0
bad() { echo "memcheck.sh: $*"; fail=1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
out=$(valgrind "${opts[@]}" --log-file="$log" "$bin")
cat "$log"
[ "$out" = "memcheck_seeded: done" ] || bad "the program did not finish: '$out'"
line() { grep -n "$1" "$src" | head -1 | cut -d: -f1; }
# want COUNT PATTERN WHAT: PATTERN (grep -E) occurs COUNT times in the log.
want() {
	local n
	n=$(grep -cE "$2" "$log")
	[ "$n" -eq "$1" ] || bad "$3: want $1 line(s) matching '$2', got $n"
}
leak_line=$(line 'char \*leak = malloc(24)')
read_line=$(line 'volatile char c = p\[at\]')
uaf_line=$(line 'volatile char d = q\[5\]')
want 1 "ERROR SUMMARY: 3 errors from 3 contexts" "three errors, no other"
want 2 "== Invalid read of size 1$" "two invalid reads"
want 1 "==  Address 0x[0-9a-f]+ is 0 bytes after a block of size 10 alloc'd$" "the read past the end"
want 1 "==  Address 0x[0-9a-f]+ is 5 bytes inside a block of size 40 free'd$" "the use after free"
want 1 "at 0x[0-9A-F]+: seeded_invalid_read \(memcheck_seeded.c:$read_line\)" "the read's line"
want 1 "at 0x[0-9A-F]+: seeded_use_after_free \(memcheck_seeded.c:$uaf_line\)" "the use's line"
want 1 "== 24 bytes in 1 blocks are definitely lost in loss record" "the leak"
want 1 "by 0x[0-9A-F]+: seeded_leak \(memcheck_seeded.c:$leak_line\)" "the leak's line"
want 1 "definitely lost: 24 bytes in 1 blocks" "only the leak lost"
want 1 "possibly lost: 0 bytes in 0 blocks" "nothing possibly lost"
want 0 "uninitialised|Mismatched|Invalid free|Invalid write|overlap|WARNING" "errors of other kinds, warnings"
grep -q "total heap usage: [1-9]" "$log" || bad "memcheck saw no allocation"
[ $fail -eq 0 ] && echo "memcheck.sh: exactly the three seeded errors ($mode)"
exit $fail
