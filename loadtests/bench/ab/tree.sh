#!/usr/bin/env bash
# Lays out a git ref of this repository as a runnable tree for A/B benchmarks:
#   loadtests/bench/ab/tree.sh <ref> <dest> [patch...]
# The sources come from <ref> (plus each patch, applied in order); node_modules are shared with
# this worktree (the root one linked, the per-package ones copied: their links are relative).
set -euo pipefail
ref=$1 dest=$2
shift 2
root=$(git rev-parse --show-toplevel)
rm -rf "$dest" && mkdir -p "$dest"
git -C "$root" archive "$ref" | tar -x -C "$dest"
for patch in "$@"; do git -C "$dest" apply "$(realpath "$patch")" 2>/dev/null || (cd "$dest" && patch -p1 -s < "$(realpath -m "$patch")"); done
ln -s "$root/node_modules" "$dest/node_modules"
for dir in "$root"/apps/*/node_modules "$root"/packages/*/node_modules; do
  rel=${dir#"$root"/}
  cp -a "$dir" "$dest/$rel"
done
echo "$dest"
