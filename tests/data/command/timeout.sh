#!/bin/sh
# Ignores SIGTERM and never finishes; leaves a background process behind.
trap '' TERM
sleep 60 &
[ -n "$CARBS_TEST_OUT" ] && echo $! > "$CARBS_TEST_OUT/bg.pid"
echo "working" >&2
while :; do sleep 1; done
