"""The factorised study's runs in one table per dataset, as the criterion reads them (means ± std
over seeds): ``python docs/tools/factorised_summary.py STUDY_DIR``."""
import json
import statistics as st
import sys
from pathlib import Path

from mmvae.experiments.verdict import cross_coherence, probes

LABELS = {"elbo-naive-mmvae": "elbo_naive MMVAE", "infonce-naive-fummvae": "infoNCE_naive fummvae",
          "fission-fummvae": "fission", "mmvae-f": "MMVAE_f", "mmvae": "MMVAE+"}


def _ms(xs: list[float]) -> str:
    return f"{100 * st.fmean(xs):.1f} ± {100 * st.stdev(xs):.1f}%" if len(xs) > 1 else f"{100 * xs[0]:.1f}%"


def main(study: str) -> None:
    groups: dict[tuple[str, str], list[dict]] = {}
    for d in sorted((Path(study) / "runs").iterdir()):
        if (d / "metrics.json").is_file():
            stem = d.name.rsplit("-seed", 1)[0]
            data = "polymnist" if stem.endswith("-polymnist") else "mnist-synthsvhn"
            groups.setdefault((data, stem[: -len(data) - 1]), []).append(json.loads((d / "metrics.json").read_text()))
    for data in ("mnist-synthsvhn", "polymnist"):
        print(f"\n{data}\n\n| variant | cross coherence | joint coherence | shared probe, mean | private probe, largest |")
        print("|---|---|---|---|---|")
        for slug, label in LABELS.items():
            runs = groups.get((data, slug), [])
            if not runs:
                continue
            private = [max(probes(m, "private")) for m in runs if probes(m, "private")]
            print(f"| {label} (n={len(runs)}) | {_ms([cross_coherence(m) for m in runs])} | "
                  f"{_ms([m['joint_coherence']['accuracy'] for m in runs])} | "
                  f"{_ms([st.fmean(probes(m, 'shared')) for m in runs])} | {_ms(private) if private else '–'} |")


if __name__ == "__main__":
    main(sys.argv[1])
