#!/bin/sh
# test_trust_cli.sh - the trust boundaries as the command line shows them
# (docs/service.md, Who may do what): `carbs keygen --admin` says where an
# admin key goes; `carbs serve --insecure` says at start, in one line, that
# anyone who can reach it is an admin; the control endpoint's socket is
# its user's only; a key name in both allow/ and allow/admin/ stops the
# service.  Needs CARBS_BIN; prints "N passed, N failed".
set -u

carbs=${CARBS_BIN:?CARBS_BIN is not set}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/carbs-trust-cli.XXXXXX")
server=
passed=0
failed=0

cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null
        wait "$server" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
has() { grep -q -- "$2" "$tmp/$1" || { bad "$1 lacks '$2': $(head -c 600 "$tmp/$1")"; return 1; }; }

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
up=0
for _ in $(seq 1 100); do
    if grep -q "is an admin" "$tmp/serve.err" 2>/dev/null; then up=1; break; fi
    sleep 0.1
done
if [ "$up" -eq 1 ] && [ "$(grep -c 'anyone who can reach tcp://127.0.0.1:[0-9]* is an admin' "$tmp/serve.err")" -eq 1 ]
then ok; else bad "no --insecure line: $(cat "$tmp/serve.err")"; fi
sock=$(ls /tmp/carbs-"$(id -u)"-*.ctl 2>/dev/null | grep -vxF -f "$tmp/before" | head -n 1)
if [ -n "$sock" ] && [ "$(stat -c %a "$sock")" = 600 ]; then ok; else
    bad "control socket '$sock' is not 0600: $(ls -l /tmp/carbs-"$(id -u)"-*.ctl 2>&1)"
fi
kill "$server"
wait "$server" 2>/dev/null
server=

# A name in both folders is refused at start.
mkdir -p "$tmp/keys/allow/admin"
cp "$tmp/keys/boss.pub" "$tmp/keys/allow/boss.pub"
cp "$tmp/keys/boss.pub" "$tmp/keys/allow/admin/boss.pub"
"$carbs" keygen --dir "$tmp/keys" --name service >/dev/null 2>&1
if "$carbs" serve --db "$tmp/s.db" --bind tcp://127.0.0.1:* --keys "$tmp/keys" >"$tmp/out" 2>"$tmp/err"
then bad "serve started with boss in allow/ and allow/admin/"
elif has err "'boss' is both a worker and an admin key"; then ok; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
