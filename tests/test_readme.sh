#!/bin/sh
# test_readme.sh - every command block of README.md works as written.
#
# Each fenced ```sh block of README.md runs with `sh -e` (so every line
# must succeed) in a fresh folder holding a link to examples/, with the
# built carbs first in PATH and no $CARBS_DB, and must exit 0.  A block
# that cannot run here (a second machine, the network, a server that runs
# until stopped, the whole demo) is marked on the line just above its
# fence with
#     <!-- readme-test: skip: REASON -->
# and is only checked to give a reason.  Prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
tmp_start readme
need timeout awk

readme=$root/README.md
bindir=$(cd "$(dirname "$carbs")" && pwd)
[ -x "$bindir/carbs" ] || skip "no binary named carbs in $bindir"

# Split the blocks: $tmp/block.N.sh, its first line in block.N.line, and
# the marker, when one stands right above the fence, in block.N.skip.
awk -v dir="$tmp" '
    inb && /^```/ { inb = 0; close(f); next }
    inb { print > f; next }
    /^<!-- readme-test: skip/ { mark = $0; next }
    /^```sh[ \t]*$/ {
        inb = 1; n++; f = dir "/block." n ".sh"; printf "" > f
        print NR + 1 > (dir "/block." n ".line")
        if (mark != "") print mark > (dir "/block." n ".skip")
        mark = ""; next
    }
    { mark = "" }
' "$readme"

runnable=0
for f in "$tmp"/block.*.sh; do
    [ -e "$f" ] || { bad "README.md has no sh block"; break; }
    n=${f#"$tmp/block."}
    n=${n%.sh}
    where="README.md:$(cat "$tmp/block.$n.line")"
    if [ -e "$tmp/block.$n.skip" ]; then
        if grep -q 'readme-test: skip: [^ ].* -->' "$tmp/block.$n.skip"; then ok; else
            bad "$where: a skip marker without its reason: $(cat "$tmp/block.$n.skip")"
        fi
        continue
    fi
    runnable=$((runnable + 1))
    mkdir "$tmp/run.$n"
    ln -s "$root/examples" "$tmp/run.$n/examples"
    if (cd "$tmp/run.$n" && env -u CARBS_DB PATH="$bindir:$PATH" CARBS_LOG=warn \
        timeout 600 sh -e -x "$f" >"$tmp/out.$n" 2>"$tmp/err.$n"); then ok; else
        bad "$where: the block exited $?: $(tail -n 8 "$tmp/err.$n")"
    fi
done
# the blocks everyday users copy must not all be marked away
if [ "$runnable" -ge 2 ]; then ok; else bad "only $runnable README blocks run"; fi

finish
