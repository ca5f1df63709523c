#!/bin/sh
# The loss blew up: Python's json module writes NaN as a bare literal.
echo '{"step": 1, "tokens": 4096, "train_loss": 7.25}'
echo '{"step": 2, "tokens": 8192, "train_loss": NaN}'
echo '{"val_loss": NaN, "tokens": 8192}'
