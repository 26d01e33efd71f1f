"""``mmvae evaluate``: the full metric suite of a trained run, and its report."""
from __future__ import annotations

PARTS = ("coherence", "latent", "likelihood")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="coherence, latent accuracy, synergy and likelihoods of a run; writes its report",
        description="Evaluates the last checkpoint of RUN_DIR on the distinct test pairs and writes "
        "metrics.json, report.md and report.html into it. Digit classifiers for coherence are trained "
        "and cached when missing (see `mmvae classifiers`).")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="which metric groups")
    p.add_argument("--iwae-K", type=int, help="importance samples of the likelihood estimates (run's eval.iwae_K)")
    p.add_argument("--iwae-pairs", type=int, help="test pairs for the likelihood estimates")
    p.add_argument("--coherence-K", type=int, help="posterior samples per input for cross coherence")
    p.add_argument("--joint-samples", type=int, help="prior samples for joint coherence")
    p.add_argument("--probe-latent", choices=("mean", "sample"), help="linear probe on posterior means or samples")
    p.add_argument("--classifier-dir", metavar="DIR", help="where digit classifiers are cached")
    p.add_argument("--data-dir", metavar="DIR", help="where the run's real data lives now")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..pipeline import evaluate_run_dir

    keys = {"iwae_K": args.iwae_K, "iwae_pairs": args.iwae_pairs, "coherence_K": args.coherence_K,
            "joint_samples": args.joint_samples, "probe_latent": args.probe_latent,
            "classifier_dir": args.classifier_dir}
    values = {f"eval.{k}": v for k, v in keys.items() if v is not None}
    evaluate_run_dir(args.run_dir, values, parts=tuple(args.only), data_dir=args.data_dir)
    return 0
