#!/bin/sh
# test_store_cli.sh - the store's safety from the command line: `carbs ask`
# and `carbs tell` on a missing store say so (exit 2) and create nothing;
# `carbs store check` passes a sound store; a garbled page makes `ask`
# refuse the store with the way out, `store check` exit 1, and
# `store recover` copy what reads into a store that checks clean and
# answers `ask` again; a symlink and a hard link to a store held by a
# running service are refused as writers, and their requests (ask, tell,
# status) reach that service.  Needs CARBS_BIN and
# CARBS_SOURCE_ROOT; prints "N passed, N failed" like every test program.
set -u
. "$(dirname "$0")/lib.sh"
tmp_start store-cli

# ---- a missing store is not created by ask or tell ----
if run 2 "$carbs" ask toy --db "$tmp/none.db" && has err "the store '$tmp/none.db' does not exist" &&
   [ ! -e "$tmp/none.db" ]; then ok; fi
if run 2 "$carbs" tell toy 1 --output 1 --cost 1 --db "$tmp/none.db" &&
   has err "does not exist" && [ ! -e "$tmp/none.db" ]; then ok; fi

# ---- a sound store ----
"$carbs" --db "$db" sweep create "$root/examples/synthetic.yaml" --name toy >/dev/null 2>&1
i=0
while [ $i -lt 40 ]; do
    "$carbs" ask toy --db "$db" >"$tmp/ask" 2>"$tmp/err" || { bad "ask: $(cat "$tmp/err")"; break; }
    id=$(sed 's/.*"trial_id":\([0-9]*\).*/\1/' "$tmp/ask")
    "$carbs" tell toy "$id" --output "1.$i" --cost 2 --db "$db" 2>"$tmp/err" ||
        { bad "tell: $(cat "$tmp/err")"; break; }
    i=$((i + 1))
done
if run 0 "$carbs" store check --db "$db" && has err "0 problems"; then ok; fi
if run 2 "$carbs" store recover --db "$db" && has err "needs --db PATH and --out NEW"; then ok; fi
if run 2 "$carbs" store frobnicate && has err "unknown store verb"; then ok; fi
if run 0 "$carbs" store --help && has out "carbs store check"; then ok; fi

# ---- the writer lock through a symlink and a hard link ----
ln -s "$db" "$tmp/sym.db"
mkdir "$tmp/other" && ln "$db" "$tmp/other/hard.db"
"$carbs" serve --db "$db" --bind "ipc://$tmp/svc" --insecure >"$tmp/serve.log" 2>&1 &
serve=$!
bg_add "$serve"
wait_for 10 grep -q "serving" "$tmp/serve.log"
if run 1 "$carbs" serve --db "$tmp/sym.db" --bind "ipc://$tmp/svc2" --insecure &&
   has err "already open for writing by pid $serve"; then ok; fi
# (the holder's pid and path through another name come from /proc on Linux)
if [ -r /proc/locks ]; then expect="by pid $serve (through '$db')"; else expect="already open for writing"; fi
if run 1 "$carbs" serve --db "$tmp/other/hard.db" --bind "ipc://$tmp/svc3" --insecure &&
   has err "$expect"; then ok; fi
if run 0 "$carbs" trials toy --db "$tmp/other/hard.db"; then ok; fi
# Requests through either name reach the running service (its control
# endpoint is named after the file's identity, not its path): an ask and a
# tell through the hard link, a status through the symlink.  Before, the
# hard link's requests found no endpoint and were refused.
for name in "$tmp/other/hard.db" "$tmp/sym.db"; do
    if run 0 "$carbs" ask toy --db "$name" && has out '"trial_id":'; then
        id=$(sed 's/.*"trial_id":\([0-9]*\).*/\1/' "$tmp/out")
        if run 0 "$carbs" tell toy "$id" --output 0.25 --cost 2 --db "$name"; then ok; fi
    fi
done
if run 0 "$carbs" status --db "$tmp/sym.db" && has out '"source":"service"'; then ok; fi
if run 0 "$carbs" status --db "$tmp/other/hard.db" && has out '"source":"service"'; then ok; fi
bg_stop "$serve" 2>/dev/null
rm -f "$tmp/sym.db" "$tmp/other/hard.db"

# ---- a garbled page ----
cp "$db" "$tmp/keep.db"
# page 18 (of 4096 bytes) holds the newest trial rows in a store this small
dd if=/dev/zero of="$db" bs=4096 seek=17 count=1 conv=notrunc 2>/dev/null
if run 1 "$carbs" ask toy --db "$db" && has err "is damaged" &&
   has err "carbs store recover --db $db --out NEW.db"; then ok; fi
if run 1 "$carbs" store check --db "$db" && has out "integrity check" &&
   has err "has problems"; then ok; fi
if run 0 "$carbs" store recover --db "$db" --out "$tmp/new.db" && has err "recovered '$db'" &&
   has out "^trials [0-9.]*: unreadable"; then ok; fi
if run 1 "$carbs" store recover --db "$db" --out "$tmp/new.db" && has err "file exists"; then ok; fi
if run 0 "$carbs" store check --db "$tmp/new.db" && has err "0 problems"; then ok; fi
if run 0 "$carbs" ask toy --db "$tmp/new.db" && has out '"trial_id":'; then ok; fi

# a store from an older carbs (schema 1): readers name the way out, `store
# upgrade` takes it, and every trial is still there
cp "$tmp/new.db" "$tmp/old.db"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript("DROP TABLE verifications; ALTER TABLE workers DROP COLUMN key; "
                "ALTER TABLE workers DROP COLUMN key_name; PRAGMA user_version = 1;")
c.close()' "$tmp/old.db"
"$carbs" trials toy --db "$tmp/new.db" >"$tmp/trials.before"
if run 1 "$carbs" trials toy --db "$tmp/old.db" &&
   has err "schema version 1, older than .*carbs store upgrade --db $tmp/old.db"; then ok; fi
if run 0 "$carbs" store upgrade --db "$tmp/old.db" && has err "is at schema version" &&
   run 0 "$carbs" trials toy --db "$tmp/old.db" && cmp -s "$tmp/out" "$tmp/trials.before"
then ok; else bad "the upgraded store does not list the trials it had"; fi
if run 1 "$carbs" store upgrade --db "$tmp/absent.db" && has err "no store at" &&
   [ ! -e "$tmp/absent.db" ]; then ok; fi

finish
