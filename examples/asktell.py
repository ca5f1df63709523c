# asktell.py - drive CARBS from Python through `carbs ask-tell` (docs/cli.md): one JSON request
# per line to its stdin, one JSON reply per line from its stdout.  It tunes a learning rate and
# a width against a toy loss whose cost grows with the width, then prints the Pareto front.
# Run it with the `carbs` binary on PATH:
#
#   PATH="$PWD/build-release/tools:$PATH" python3 examples/asktell.py
import json, math, subprocess

opt = subprocess.Popen(["carbs", "ask-tell"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       text=True, bufsize=1)

def call(request):
    opt.stdin.write(json.dumps(request) + "\n")
    reply = json.loads(opt.stdout.readline())
    if reply.get("ok") is False:
        raise RuntimeError(reply["error"])
    return reply

call({"cmd": "init", "seed": 0, "better_direction_sign": -1,
      "space": [{"name": "lr", "kind": "log", "min": 1e-4, "max": 1e-1, "center": 3e-3},
                {"name": "width", "kind": "log", "min": 16, "max": 1024, "center": 64,
                 "is_integer": True}],
      "config": {"num_random_samples": 4}})

for _ in range(20):
    s = call({"cmd": "suggest"})
    lr, width = s["params"]["lr"], s["params"]["width"]
    loss = (math.log10(lr) + 2.5) ** 2 + 10 / width     # your training run goes here
    cost = width / 16.0                                  # and what it cost
    call({"cmd": "observe", "id": s["id"], "params": s["params"], "output": loss, "cost": cost})

for p in call({"cmd": "pareto"})["pareto"]:
    print(f'{p["cost"]:8.2f}  {p["output"]:.4f}  {p["params"]}')
call({"cmd": "quit"})
