# shellcheck shell=bash
# Shared helpers for the black-box tests in tests/blackbox/*.sh.
# Sourced by each test, never run on its own.
#
# A test:
#   1. calls bb_init NAME            (checks PCMALLOC_LIB, makes $BB_TMP)
#   2. writes its program/data into  "$BB_TMP/input/"
#   3. calls bb_run_both CMD ARGS... (runs CMD twice: plain and preloaded)
#   4. calls bb_compare              (exit status, stdout, and proof that
#                                     pcmalloc was active) and
#      bb_compare_files FILE...      (files produced by the runs)
#
# Both runs execute in the same directory path ($BB_TMP/w, a fresh copy of
# $BB_TMP/input each time) with the same minimal environment, so absolute
# paths that end up in outputs (e.g. DW_AT_comp_dir) are identical.  After a
# run the directory is moved to $BB_TMP/plain or $BB_TMP/pcm.
#
# Environment knobs:
#   PCMALLOC_LIB                 (required) path to libpcmalloc.so
#   BLACKBOX_SKIP_ACTIVE_CHECK=1 do not require "pcmalloc statistics" on
#                                stderr (only for validating the tests with
#                                another allocator such as jemalloc)
#   BLACKBOX_TIMEOUT=SECONDS     per-run hang limit (default 900)
#   BLACKBOX_KEEP_TMP=1          keep the temp dir (its path is printed)

BB_NAME=${BB_NAME:-blackbox}
BB_TMP=
BB_ACTIVE_MARKER='pcmalloc statistics'
BB_PCM_CONF='stats:1'
# Extra NAME=VALUE pairs a test adds to both runs' environment.
BB_ENV=()

bb_log() { printf '[%s] %s\n' "$BB_NAME" "$*" >&2; }

bb_die() {
	printf 'FAIL [%s]: %s\n' "$BB_NAME" "$*" >&2
	exit 1
}

bb_cleanup() {
	if [[ -n "$BB_TMP" && -d "$BB_TMP" ]]; then
		if [[ "${BLACKBOX_KEEP_TMP:-0}" == 1 ]]; then
			bb_log "kept temp dir $BB_TMP"
		else
			rm -rf -- "$BB_TMP"
		fi
	fi
}

# bb_need PATH... : every program must exist and be executable.
bb_need() {
	local p
	for p in "$@"; do
		[[ -x "$p" ]] || bb_die "required program $p is missing (install: apt-get install -y \$(bash tests/blackbox/deps.sh))"
	done
}

# bb_init NAME : validate PCMALLOC_LIB, create the private temp dir.
bb_init() {
	BB_NAME=$1
	if [[ -z "${PCMALLOC_LIB:-}" ]]; then
		bb_die "PCMALLOC_LIB is not set; set it to the absolute path of the allocator, e.g. PCMALLOC_LIB=\$PWD/build/libpcmalloc.so"
	fi
	if [[ ! -e "$PCMALLOC_LIB" ]]; then
		bb_die "PCMALLOC_LIB=$PCMALLOC_LIB does not exist (build it first)"
	fi
	if [[ ! -f "$PCMALLOC_LIB" || ! -r "$PCMALLOC_LIB" ]]; then
		bb_die "PCMALLOC_LIB=$PCMALLOC_LIB is not a readable regular file"
	fi
	if [[ "$(head -c 4 -- "$PCMALLOC_LIB" | od -An -c | tr -d ' ')" != '177ELF' ]]; then
		bb_die "PCMALLOC_LIB=$PCMALLOC_LIB is not an ELF file"
	fi
	if [[ "$PCMALLOC_LIB" != /* ]]; then
		# The runs happen in another directory: make the path absolute.
		PCMALLOC_LIB=$(realpath -- "$PCMALLOC_LIB")
	fi
	case "$PCMALLOC_LIB" in
	*[[:space:]:]*) bb_die "PCMALLOC_LIB=$PCMALLOC_LIB contains a space or colon, which LD_PRELOAD cannot express" ;;
	esac
	bb_need /usr/bin/env /usr/bin/timeout /usr/bin/cmp /usr/bin/diff /usr/bin/mktemp
	BB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pcmalloc-bb-$BB_NAME.XXXXXX")
	trap bb_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir -p "$BB_TMP/input"
	BB_TIME_plain=
	BB_TIME_pcm=
}

# bb_run VARIANT CMD ARGS... : VARIANT is plain or pcm.  Runs CMD in a fresh
# copy of $BB_TMP/input at $BB_TMP/w with stdin from /dev/null, stdout to
# $BB_TMP/VARIANT.out, stderr to $BB_TMP/VARIANT.err; afterwards the work
# directory is moved to $BB_TMP/VARIANT.
bb_run() {
	local variant=$1
	shift
	local w=$BB_TMP/w
	rm -rf -- "$w"
	cp -a -- "$BB_TMP/input" "$w"
	mkdir -p "$w/.tmp" "$w/.home"
	local -a envv=(
		PATH=/usr/bin:/bin
		HOME="$w/.home"
		TMPDIR="$w/.tmp"
		LC_ALL=C
		LANG=C
		TZ=UTC
		"${BB_ENV[@]}"
	)
	if [[ "$variant" == pcm ]]; then
		envv+=(LD_PRELOAD="$PCMALLOC_LIB" PCMALLOC_CONF="$BB_PCM_CONF")
	fi
	local rc=0 t0 t1
	t0=$EPOCHREALTIME
	(cd "$w" && exec /usr/bin/timeout -k 10 "${BLACKBOX_TIMEOUT:-900}" \
		/usr/bin/env -i "${envv[@]}" "$@") \
		</dev/null >"$BB_TMP/$variant.out" 2>"$BB_TMP/$variant.err" || rc=$?
	t1=$EPOCHREALTIME
	printf -v "BB_TIME_$variant" '%.1f' "$(bc_sub "$t1" "$t0")"
	printf -v "BB_STATUS_$variant" '%d' "$rc"
	rm -rf -- "${BB_TMP:?}/$variant"
	mv -- "$w" "$BB_TMP/$variant"
}

# Difference of two EPOCHREALTIME values, without bc.
bc_sub() {
	local a=${1/./} b=${2/./}
	local d=$((10#$a - 10#$b))
	printf '%d.%06d' $((d / 1000000)) $((d % 1000000))
}

# bb_run_both CMD ARGS... : the plain run, then the preloaded run.
bb_run_both() {
	bb_run plain "$@"
	bb_run pcm "$@"
}

bb_show_tail() {
	local f=$1 what=$2
	printf -- '--- last lines of %s ---\n' "$what" >&2
	tail -n 25 -- "$f" >&2 || true
	printf -- '--- end of %s ---\n' "$what" >&2
}

bb_status_msg() {
	case "$1" in
	124 | 137) echo "timed out after ${BLACKBOX_TIMEOUT:-900}s (status $1)" ;;
	0) echo "status 0" ;;
	*)
		if (($1 > 128)); then
			echo "status $1 (killed by signal $(($1 - 128)): $(kill -l $(($1 - 128)) 2>/dev/null || echo '?'))"
		else
			echo "status $1"
		fi
		;;
	esac
}

# bb_compare : exit status of both runs must be 0; stdout must be
# byte-identical and non-empty; the preloaded run must show pcmalloc's
# statistics report on stderr.
bb_compare() {
	local v
	for v in plain pcm; do
		local st_var=BB_STATUS_$v
		local st=${!st_var}
		if [[ "$st" != 0 ]]; then
			bb_show_tail "$BB_TMP/$v.err" "$v stderr"
			if [[ "$v" == plain ]]; then
				bb_die "the plain run (without LD_PRELOAD) failed: $(bb_status_msg "$st"); the test or the system is broken, not the allocator"
			fi
			bb_die "the run with LD_PRELOAD=$PCMALLOC_LIB failed: $(bb_status_msg "$st") (the plain run succeeded)"
		fi
	done
	if grep -aqF 'cannot be preloaded' "$BB_TMP/pcm.err"; then
		bb_show_tail "$BB_TMP/pcm.err" "pcm stderr"
		bb_die "the dynamic loader could not preload $PCMALLOC_LIB"
	fi
	if [[ ! -s "$BB_TMP/plain.out" ]]; then
		bb_die "the plain run printed nothing on stdout; the test is broken"
	fi
	if ! cmp -s -- "$BB_TMP/plain.out" "$BB_TMP/pcm.out"; then
		printf -- '--- diff of stdout: plain vs pcmalloc (first 40 lines) ---\n' >&2
		diff -a -- "$BB_TMP/plain.out" "$BB_TMP/pcm.out" | head -n 40 >&2 || true
		bb_show_tail "$BB_TMP/pcm.err" "pcm stderr"
		bb_die "stdout differs between the plain run and the run with pcmalloc"
	fi
	if [[ "${BLACKBOX_SKIP_ACTIVE_CHECK:-0}" == 1 ]]; then
		bb_log "WARNING: BLACKBOX_SKIP_ACTIVE_CHECK=1: not checking that pcmalloc was active"
	elif ! grep -aqF -- "$BB_ACTIVE_MARKER" "$BB_TMP/pcm.err"; then
		bb_show_tail "$BB_TMP/pcm.err" "pcm stderr"
		bb_die "no '$BB_ACTIVE_MARKER' on stderr of the run with LD_PRELOAD=$PCMALLOC_LIB PCMALLOC_CONF=$BB_PCM_CONF: the allocator was not in effect (or stats:1 printed nothing)"
	fi
}

# bb_compare_files RELPATH... : each file produced in the work directory
# must exist after both runs and be byte-identical.  Call after bb_compare.
bb_compare_files() {
	local f
	for f in "$@"; do
		[[ -e "$BB_TMP/plain/$f" ]] || bb_die "the plain run did not produce $f; the test is broken"
		[[ -e "$BB_TMP/pcm/$f" ]] || bb_die "the run with pcmalloc did not produce $f"
		if ! cmp -- "$BB_TMP/plain/$f" "$BB_TMP/pcm/$f" >&2; then
			bb_die "produced file $f differs between the plain run and the run with pcmalloc"
		fi
	done
}

# bb_expect_line LINE : the (plain) stdout must contain exactly this line;
# a sanity check of the test itself.
bb_expect_line() {
	grep -qxF -- "$1" "$BB_TMP/plain.out" ||
		bb_die "expected line '$1' missing from the plain run's output; the test is broken"
}

# bb_expect_re REGEX : some line of the (plain) stdout must match the
# extended regular expression.
bb_expect_re() {
	grep -qE -- "$1" "$BB_TMP/plain.out" ||
		bb_die "no line matching /$1/ in the plain run's output; the test is broken"
}

bb_pass() {
	printf 'PASS [%s]: plain %ss, pcmalloc %ss\n' "$BB_NAME" "$BB_TIME_plain" "$BB_TIME_pcm"
}
