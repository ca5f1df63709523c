#!/bin/sh
# test_trust_cli.sh - the trust boundaries as the command line shows them
# (docs/service.md, Who may do what): `carbs keygen --admin` says where an
# admin key goes; `carbs serve --insecure` says at start, in one line, that
# anyone who can reach it is an admin; the control endpoint's socket is
# its user's only; a key name in both allow/ and allow/admin/ stops the
# service; `carbs workers release --unbind` is offered and checks its id.  Needs CARBS_BIN; prints "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
tmp_start trust-cli

# keygen --admin: the usual pair, and where its .pub goes.
if "$carbs" keygen --dir "$tmp/keys" --name boss --admin >"$tmp/out" 2>"$tmp/err" &&
    has out "public_key_file: $tmp/keys/boss.pub" && has out "role: admin (copy .* allow/admin/)"
then ok; fi

# serve --insecure: one line at start; the control socket is 0600 even
# under umask 0.
ls /tmp/carbs-"$(id -u)"-*.ctl >"$tmp/before" 2>/dev/null
echo "$tmp/none" >>"$tmp/before"
(umask 0 && exec "$carbs" serve --db "$tmp/s.db" --bind tcp://127.0.0.1:* --insecure) \
    2>"$tmp/serve.err" &
server=$!
bg_add "$server"
if wait_for 10 grep -q "is an admin" "$tmp/serve.err" && [ "$(grep -c 'anyone who can reach tcp://127.0.0.1:[0-9]* is an admin' "$tmp/serve.err")" -eq 1 ]
then ok; else bad "no --insecure line: $(cat "$tmp/serve.err")"; fi
sock=$(ls /tmp/carbs-"$(id -u)"-*.ctl 2>/dev/null | grep -vxF -f "$tmp/before" | head -n 1)
if [ -n "$sock" ] && [ "$(stat -c %a "$sock")" = 600 ]; then ok; else
    bad "control socket '$sock' is not 0600: $(ls -l /tmp/carbs-"$(id -u)"-*.ctl 2>&1)"
fi
bg_stop "$server" 2>/dev/null

# A name in both folders is refused at start.
mkdir -p "$tmp/keys/allow/admin"
cp "$tmp/keys/boss.pub" "$tmp/keys/allow/boss.pub"
cp "$tmp/keys/boss.pub" "$tmp/keys/allow/admin/boss.pub"
"$carbs" keygen --dir "$tmp/keys" --name service >/dev/null 2>&1
if "$carbs" serve --db "$tmp/s.db" --bind tcp://127.0.0.1:* --keys "$tmp/keys" >"$tmp/out" 2>"$tmp/err"
then bad "serve started with boss in allow/ and allow/admin/"
elif has err "'boss' is both a worker and an admin key"; then ok; fi

# workers release --unbind: named in the help; an unknown id is an error.
if run 0 "$carbs" workers release --help && has out "unbind"; then ok; fi
if run 1 "$carbs" workers release nobody --unbind --db "$tmp/s.db" && has err "no worker 'nobody'"; then ok; fi

finish
