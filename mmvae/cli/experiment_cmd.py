"""``mmvae experiment``: a whole study (many runs) and one comparison report."""
from __future__ import annotations


def add_parser(sub) -> None:
    from ..experiments import STUDIES

    p = sub.add_parser(
        "experiment", help="run a whole study and write one comparison report",
        description="Studies: " + "; ".join(f"{n}: {STUDIES.info(n)['description']}" for n in STUDIES.names())
        + ". Finished runs are skipped and interrupted ones resumed, so rerunning continues a study.")
    p.add_argument("name", choices=STUDIES.names())
    p.add_argument("--quick", action="store_true", help="less data and fewer epochs (≤ 30 min on a 2-core CPU)")
    p.add_argument("--dataset", default="mnist_synthsvhn",
                   help="paired data (mnist_svhn where SVHN is available; synthetic needs no files)")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the real files")
    p.add_argument("--seeds", type=int, nargs="+", help="run seeds (default: the preset's)")
    p.add_argument("--out", metavar="DIR", help="study folder (default experiments/<name>[-quick])")
    p.add_argument("--list", action="store_true", help="only list the runs the study would make")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import validate
    from ..experiments import build_study, run_study

    study = build_study(args.name, args.quick, args.dataset, args.data_dir, args.seeds)
    for _, cfg in study.runs:
        validate(cfg)
    if args.list:
        for label, cfg in study.runs:
            print(f"{label} (seed {cfg.train.seed}): model {cfg.model.model}, obj {cfg.train.obj}, "
                  f"{cfg.train.epochs} epochs")
        return 0
    out = args.out or f"experiments/{args.name}{'-quick' if args.quick else ''}"
    run_study(study, out)
    return 0
