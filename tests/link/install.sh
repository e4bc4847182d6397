#!/usr/bin/env bash
# make install into a DESTDIR puts the library with its soname links, the
# header, the pkg-config file, the wrapper and the man pages in place (and a
# program links and runs against them); make uninstall with the same
# variables leaves no file behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
fail() { echo "install.sh: $*" >&2; exit 1; }
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
vars=(BUILD="$BUILD" DESTDIR="$dest" PREFIX=/opt/pcm LIBDIR=/opt/pcm/lib64)

make -s --no-print-directory "${vars[@]}" install
(cd "$dest" && find . \( -type f -o -type l \) | sort) >"$dest.list"
cat "$dest.list"
expect=(./opt/pcm/bin/pcmalloc ./opt/pcm/bin/pcmstat ./opt/pcm/include/pcmalloc.h ./opt/pcm/lib64/libpcmalloc.a
	./opt/pcm/lib64/libpcmalloc.so ./opt/pcm/lib64/libpcmalloc.so.1
	./opt/pcm/lib64/libpcmalloc.so.1.0.0 ./opt/pcm/lib64/pkgconfig/pcmalloc.pc
	./opt/pcm/share/man/man1/pcmalloc.1 ./opt/pcm/share/man/man1/pcmstat.1
	./opt/pcm/share/man/man3/pcmalloc.3)
for f in "${expect[@]}"; do
	grep -qxF "$f" "$dest.list" || fail "make install did not install $f"
done
lib=$dest/opt/pcm/lib64
[ "$(readlink "$lib/libpcmalloc.so")" = libpcmalloc.so.1 ] || fail "libpcmalloc.so is not a link to the soname"
[ "$(readlink "$lib/libpcmalloc.so.1")" = libpcmalloc.so.1.0.0 ] || fail "libpcmalloc.so.1 is not a link to the file"
readelf -d "$lib/libpcmalloc.so.1.0.0" | grep -q 'SONAME.*\[libpcmalloc.so.1\]' || fail "soname is not libpcmalloc.so.1"
grep -qx "libdir=/opt/pcm/lib64" "$lib/pkgconfig/pcmalloc.pc" || fail "pcmalloc.pc has the wrong libdir"
grep -q "/opt/pcm/lib64/libpcmalloc.so.1" "$dest/opt/pcm/bin/pcmalloc" || fail "the wrapper does not name LIBDIR"
for m in "$dest"/opt/pcm/share/man/man*/*; do
	out=$(man --warnings -l "$m" 2>&1 >/dev/null) || fail "man $m failed"
	[ -z "$out" ] || fail "man $m warns: $out"
done

# A program built against the installed files, through pkg-config.
cat >"$dest/prog.c" <<'C'
#include <pcmalloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(void)
{
	void *p = malloc(100);
	printf("%d\n", pcmalloc_owns(p));
	free(p);
	return 0;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$lib/pkgconfig pkg-config --cflags --libs pcmalloc)
cc -o "$dest/prog" "$dest/prog.c" $flags -Wl,-rpath,"$lib"
readelf -d "$dest/prog" | grep -q 'NEEDED.*\[libpcmalloc.so.1\]' || fail "the program does not need libpcmalloc.so.1"
[ "$("$dest/prog")" = 1 ] || fail "the program linked against the installed library does not use it"
rm -f "$dest/prog" "$dest/prog.c"

make -s --no-print-directory "${vars[@]}" uninstall
left=$(cd "$dest" && find . \( -type f -o -type l \))
[ -z "$left" ] || fail "make uninstall left files behind: $left"
rm -f "$dest.list"
echo "install.sh: ok"
