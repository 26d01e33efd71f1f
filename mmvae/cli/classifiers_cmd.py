"""``mmvae classifiers``: train, list and check the digit classifiers that judge coherence."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("classifiers", help="train or list the digit classifiers used for coherence",
                       description="Digit classifiers, one per image source, trained on the source's own "
                       "training split and cached (safetensors + JSON with accuracy and SHA-256).")
    csub = p.add_subparsers(dest="clf_command", metavar="ACTION", required=True)
    t = csub.add_parser("train", help="train (or retrain) classifiers")
    t.add_argument("--source", nargs="+", default=["synthmnist", "synthsvhn"],
                   help="sources: mnist, svhn, synthmnist, synthsvhn, or a dataset's sources (e.g. polymnist_m0)")
    t.add_argument("--dataset", help="train the judges of every source of this dataset instead (e.g. polymnist)")
    t.add_argument("--seed", type=int, default=0, help="training seed")
    t.add_argument("--ship", action="store_true",
                   help="write the judges into the package (mmvae/judges: float16 weights, the command, data hash, "
                        "accuracy, SHA-256): how the shipped judges are made")
    t.add_argument("--epochs", type=int, default=4, help="training epochs (4 gave 99.11%% on real MNIST, 3 gave 99.04%%)")
    t.add_argument("--synthetic-train", type=int, default=60000, help="synthetic training images")
    t.add_argument("--synthetic-seed", type=int, default=0)
    t.add_argument("--data-dir", metavar="DIR", help="folder of the real files")
    t.add_argument("--dir", metavar="DIR", help="where classifiers are saved (default: the cache folder)")
    t.add_argument("--device", default="cpu")
    t.set_defaults(func=cmd_train)
    ls = csub.add_parser("list", help="list saved classifiers with their test accuracy")
    ls.add_argument("--dir", metavar="DIR")
    ls.set_defaults(func=cmd_list)


def _sources(args, cfg) -> list:
    from ..data.datasets import DATASETS
    from ..data.sources import SOURCES
    from ..errors import ConfigError

    if args.dataset:
        cfg.dataset = args.dataset
        return DATASETS.get(args.dataset).sources(cfg)
    known = {s.name: s for name in DATASETS.names() for s in DATASETS.get(name).sources(cfg)}
    out = []
    for name in args.source:
        if name not in SOURCES and name not in known:
            SOURCES.get(name)  # the error lists the choices
        out.append(SOURCES.get(name) if name in SOURCES else known[name])
    if not out:
        raise ConfigError("Name at least one --source or a --dataset.")
    return out


def _command(args, source) -> str:
    """The command that rebuilds a shipped judge (DIR: the folder with real MNIST, the user's)."""
    data = " --data-dir DIR" if args.data_dir else ""
    return (f"mmvae classifiers train --source {source.name} --epochs {args.epochs} --synthetic-train "
            f"{args.synthetic_train} --synthetic-seed {args.synthetic_seed} --seed {args.seed}{data} --ship")


def cmd_train(args) -> int:
    from ..config import DataConfig
    from ..evaluation.classifiers import train_source_classifier
    from ..evaluation.judges import ship

    cfg = DataConfig(data_dir=args.data_dir, synthetic_train=args.synthetic_train,
                     synthetic_seed=args.synthetic_seed)
    for source in _sources(args, cfg):
        clf = train_source_classifier(source, cfg, epochs=args.epochs, folder=args.dir, device=args.device,
                                      seed=args.seed, log=print)
        print(f"{source.name}: test accuracy {100 * clf.test_accuracy:.2f}%  ({clf.path})")
        if args.ship:
            path = ship(clf, source, cfg, _command(args, source))
            print(f"  shipped: {path}")
    return 0


def cmd_list(args) -> int:
    import json

    from ..evaluation.classifiers import classifier_dir
    from ..evaluation.judges import shipped_records

    for path, meta in shipped_records():
        print(f"{meta['source']:16s} {100 * meta['test_accuracy']:.2f}%  shipped (float16, v{meta['version']})  {path}")
    folder = classifier_dir(args.dir)
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not records:
        print(f"no trained classifiers in {folder}")
    for path in records:
        meta = json.loads(path.read_text())
        print(f"{meta['source']:11s} {100 * meta['test_accuracy']:.2f}%  n_train={meta.get('n_train')} "
              f"epochs={meta.get('epochs')}  {path.with_suffix('.safetensors')}")
    return 0
