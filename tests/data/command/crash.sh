#!/bin/sh
# Dies by a signal half way through, after some output.
echo '{"step": 1, "tokens": 100, "train_loss": 5.5}'
echo "about to crash" >&2
kill -SEGV $$
sleep 5
