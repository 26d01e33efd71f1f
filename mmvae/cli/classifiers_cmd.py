"""``mmvae classifiers``: train, list and check the digit classifiers that judge coherence."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("classifiers", help="train or list the digit classifiers used for coherence",
                       description="Digit classifiers, one per image source, trained on the source's own "
                       "training split and cached (safetensors + JSON with accuracy and SHA-256).")
    csub = p.add_subparsers(dest="clf_command", metavar="ACTION", required=True)
    t = csub.add_parser("train", help="train (or retrain) classifiers")
    t.add_argument("--source", nargs="+", default=["synthmnist", "synthsvhn"],
                   help="sources: mnist, svhn, synthmnist, synthsvhn")
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


def cmd_train(args) -> int:
    from ..config import DataConfig
    from ..data.sources import SOURCES
    from ..evaluation.classifiers import train_source_classifier

    cfg = DataConfig(data_dir=args.data_dir, synthetic_train=args.synthetic_train,
                     synthetic_seed=args.synthetic_seed)
    for name in args.source:
        clf = train_source_classifier(SOURCES.get(name), cfg, epochs=args.epochs, folder=args.dir, device=args.device,
                                      log=print)
        print(f"{name}: test accuracy {100 * clf.test_accuracy:.2f}%  ({clf.path})")
    return 0


def cmd_list(args) -> int:
    import json

    from ..evaluation.classifiers import classifier_dir

    folder = classifier_dir(args.dir)
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not records:
        print(f"no classifiers in {folder}")
    for path in records:
        meta = json.loads(path.read_text())
        print(f"{meta['source']:11s} {100 * meta['test_accuracy']:.2f}%  n_train={meta.get('n_train')} "
              f"epochs={meta.get('epochs')}  {path.with_suffix('.safetensors')}")
    return 0
