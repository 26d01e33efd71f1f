"""Per-epoch digit probes and KL terms of run folders trained with ``--probe-every 1``:
``python docs/tools/probe_trend.py RUN_DIR [RUN_DIR ...]`` prints one line per epoch."""
import json
import sys
from pathlib import Path

from mmvae.experiments.figures import probe_curves


def main(runs: list[str]) -> None:
    for run in runs:
        print(run)
        curves = probe_curves(Path(run))
        for line in (Path(run) / "metrics.jsonl").read_text().splitlines():
            r = json.loads(line)
            epoch = r["epoch"]
            if epoch not in curves["shared"]:
                continue
            private = curves["private"].get(epoch)
            kl = ", ".join(f"{k[len('test_kl_'):]} {v:.1f}" for k, v in r.items() if k.startswith("test_kl_"))
            print(f"  epoch {epoch}: shared probe mean {100 * curves['shared'][epoch]:.1f}%"
                  + (f", private probe max {100 * private:.1f}%" if private is not None else "")
                  + f", test loss {r['test_loss']:.1f}; KL {kl}")


if __name__ == "__main__":
    main(sys.argv[1:])
