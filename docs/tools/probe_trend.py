"""Per-epoch digit probes and KL terms of run folders trained with ``--probe-every 1``:
``python docs/tools/probe_trend.py RUN_DIR [RUN_DIR ...]`` prints one line per epoch."""
import json
import sys
from statistics import fmean


def main(runs: list[str]) -> None:
    for run in runs:
        print(run)
        for line in open(f"{run}/metrics.jsonl"):
            r = json.loads(line)
            shared = [v for k, v in r.items() if k.startswith("test_probe_") and not k.endswith("_private")]
            private = [v for k, v in r.items() if k.endswith("_private") and k.startswith("test_probe_")]
            kl = {k[len("test_kl_"):]: v for k, v in r.items() if k.startswith("test_kl_")}
            print(f"  epoch {r['epoch']}: shared probe mean {100 * fmean(shared):.1f}%"
                  + (f", private probe max {100 * max(private):.1f}%" if private else "")
                  + f", test loss {r['test_loss']:.1f}; KL " + ", ".join(f"{k} {v:.1f}" for k, v in kl.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
