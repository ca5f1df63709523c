#!/bin/sh
# Many progress lines, then the result without a trailing newline.
i=0
while [ $i -lt 40 ]; do
    i=$((i + 1))
    echo "{\"step\": $((i * 25)), \"tokens\": $((i * 102400)), \"train_loss\": 4.$((100 - i))}"
done
printf '{"status": "ok", "val_loss": 3.0625, "val_bpb": 1.125, "custom_metric": 0.375}'
