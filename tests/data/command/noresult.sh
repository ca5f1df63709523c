#!/bin/sh
# Finishes cleanly without reporting anything usable.
echo "training..."
echo '{"step": 3, "tokens": 300}'
echo '{"not": "a result"}'
echo "finished" >&2
