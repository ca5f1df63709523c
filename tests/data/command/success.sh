#!/bin/sh
# A well-behaved trial: reads its parameters three ways and reports them back.
x=""; decay=""
for a in "$@"; do
    case "$a" in
    --x=*) x="${a#--x=}" ;;
    --decay=*) decay="${a#--decay=}" ;;
    esac
done
echo "starting trial $CARBS_TRIAL_ID attempt $CARBS_ATTEMPT on $CARBS_DEVICE"
echo "some log line {not json}"
if [ -n "$CARBS_TEST_OUT" ]; then
    cp "$CARBS_PARAMS_FILE" "$CARBS_TEST_OUT/params.json"
    printf '%s\n' "$@" > "$CARBS_TEST_OUT/argv.txt"
    env | grep '^CARBS_' | sort > "$CARBS_TEST_OUT/env.txt"
fi
echo '{"val_loss": 9.5}'
printf '{"status": "ok", "val_loss": %s, "env_x": %s, "trial": %s, "decay_is_%s": 1, "message": "fine"}\n' \
    "$x" "$CARBS_PARAM_X" "$CARBS_TRIAL_ID" "$decay"
echo "done"
