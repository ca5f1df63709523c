#!/bin/sh
# 5000 progress lines (more than the runner keeps in a curve), then a result.
awk 'BEGIN { for (i = 1; i <= 5000; i++) printf "{\"step\": %d, \"tokens\": %d, \"train_loss\": %.4f}\n", i, i * 64, 5 - i / 2000.0; print "{\"val_loss\": 2.5}" }'
