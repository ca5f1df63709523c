#!/bin/sh
# Writes a pretty-printed result file; a decoy result line on stdout loses.
cat > "$CARBS_RESULT_FILE" <<'JSON'
{
  "status": "ok",
  "val_bpb": 1.4375,
  "metrics_note": "from the file"
}
JSON
echo '{"val_bpb": 99}'
