#!/usr/bin/env bash
# Black-box test: git (and the bash driving it, and every git subprocess)
# creating a repository of 2000 files in nested directories, several commits
# with modifications, renames and deletions, a branch and merge, an annotated
# tag, `git gc`, then fsck, log --stat, ls-tree, blame, grep, archive.
# Identities and dates are fixed, so every object id is deterministic.
set -euo pipefail
# shellcheck source=lib/common.bash
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.bash"
bb_init git
bb_need /usr/bin/git /usr/bin/bash /usr/bin/sha256sum

cat >"$BB_TMP/input/run.sh" <<'EOF'
set -euo pipefail
git() { /usr/bin/git "$@"; }
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME='Black Box' GIT_AUTHOR_EMAIL='blackbox@example.invalid'
export GIT_COMMITTER_NAME='Black Box' GIT_COMMITTER_EMAIL='blackbox@example.invalid'
step=0
setdate() { # a fixed, increasing date for each commit
	step=$((step + 1))
	export GIT_AUTHOR_DATE="2021-03-0${step}T12:00:00+0000"
	export GIT_COMMITTER_DATE="$GIT_AUTHOR_DATE"
}

git init -q -b main repo
cd repo
git config gc.auto 0
git config gc.autoDetach false
git config core.fsyncMethod batch
git config pack.threads 2

# 2000 files: 20 top dirs x 10 subdirs x 10 files, 20-60 lines each.
for a in $(seq -w 0 19); do
	for b in $(seq -w 0 9); do
		mkdir -p "d$a/s$b"
		for c in $(seq 0 9); do
			n=$((10#$a * 100 + 10#$b * 10 + c))
			lines=$((20 + n % 41))
			out=""
			for ((l = 0; l < lines; l++)); do
				out+="line $l of file $n: value $(((n * 7919 + l * 104729) % 1000003)) common text for delta compression"$'\n'
			done
			printf '%s' "$out" >"d$a/s$b/f$c.txt"
		done
	done
done

setdate
git add -A
git commit -q -m "initial: 2000 files"
echo "commit1 $(git rev-parse HEAD)"

# Modify every 10th file.
setdate
for f in d0*/s*/f3.txt; do
	printf 'appended in commit 2 to %s\n' "$f" >>"$f"
done
git commit -q -a -m "append to f3 files"

# Renames, deletions, new files.
setdate
git mv d00/s0 d00/renamed0
git rm -q -r d19/s9
for i in $(seq 0 99); do
	mkdir -p new/n$((i % 10))
	printf 'new file %d\n%s\n' "$i" "$(seq -s, "$i" $((i + 50)))" >"new/n$((i % 10))/x$i.txt"
done
git add -A
git commit -q -m "rename d00/s0, remove d19/s9, add new/"

# A branch with its own commit, merged back without fast-forward.
setdate
git checkout -q -b topic
sed -i 's/common text/COMMON TEXT/' d05/s*/f*.txt
git commit -q -a -m "topic: shout in d05"
setdate
git checkout -q main
printf 'main side\n' >>d10/s0/f0.txt
git commit -q -a -m "main: touch d10/s0/f0"
setdate
git merge -q --no-ff -m "merge topic" topic
git tag -a -m "release 1" v1

setdate
git rm -q -r --cached d07
git commit -q -m "untrack d07"
git add d07
git commit -q -m "track d07 again"

git gc -q --prune=now
git fsck --full --strict --no-progress
echo "fsck ok"
echo "head $(git rev-parse HEAD)"
echo "tree $(git rev-parse 'HEAD^{tree}')"
echo "tag $(git rev-parse v1) $(git rev-parse 'v1^{commit}')"
echo "objects $(git rev-list --objects --all | wc -l)"
git count-objects -v | grep -E '^(count|in-pack|packs):'
git log --stat --format=fuller
git log --graph --oneline --all
git ls-tree -r HEAD | sha256sum
git log -p --all | sha256sum
git diff --stat v1~1 HEAD | tail -n 3
git blame -s d10/s0/f0.txt | tail -n 3
git grep -c 'COMMON TEXT' HEAD | sed -n '1,5p'
git grep -c 'COMMON TEXT' HEAD | wc -l
git archive --format=tar HEAD | sha256sum
git cat-file -p v1
echo "end"
EOF

bb_run_both /usr/bin/bash run.sh
bb_compare
bb_expect_line 'fsck ok'
bb_expect_line 'end'
bb_pass
