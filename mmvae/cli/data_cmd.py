"""``mmvae data``: what data is present, checksum verification, preparation and contact sheets."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..errors import DataError


def _names_help() -> str:
    from ..data.datasets import DATASETS
    from ..data.sources import SOURCES

    return f"a dataset ({', '.join(DATASETS.names())}) or one source ({', '.join(SOURCES.names())})"


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="inspect, verify, prepare or preview datasets",
                       description="Inspect, verify, prepare (download/generate) and preview the data.")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", help="folder with the real files (default $MMVAE_DATA or ./data)")
    poly = argparse.ArgumentParser(add_help=False)
    poly.add_argument("--modalities", type=int, default=5, metavar="N", help="polymnist: number of modalities")
    poly.add_argument("--backgrounds", metavar="DIR", help="polymnist: folder of background images (default: built-in textures)")

    info = dsub.add_parser("info", parents=[common], help="list the sources, where their files are and whether they are present")
    info.set_defaults(func=cmd_info)

    verify = dsub.add_parser("verify", parents=[common], help="check files and MD5 checksums; exit 1 on any problem")
    verify.add_argument("--dataset", default="mnist_svhn", help=_names_help())
    verify.set_defaults(func=cmd_verify)

    prep = dsub.add_parser("prepare", parents=[common, poly], help="download (with --download) or generate the data and build the pairing cache")
    prep.add_argument("--dataset", default="synthetic", help=_names_help())
    prep.add_argument("--download", action="store_true", help="download missing real files from the official mirrors")
    prep.add_argument("--max_d", "--max-d", type=int, default=10000, dest="max_d", help="pairing: images per class")
    prep.add_argument("--dm", type=int, default=30, help="pairing rounds")
    prep.set_defaults(func=cmd_prepare)

    sheet = dsub.add_parser("sheet", parents=[common, poly], help="render a contact sheet (rows: digits 0-9) to a PNG")
    sheet.add_argument("--dataset", default="synthetic", help=_names_help())
    sheet.add_argument("--split", default="test", choices=("train", "test"))
    sheet.add_argument("--per-digit", type=int, default=8, help="images per digit and source")
    sheet.add_argument("--out", default="contact_sheet.png", help="PNG file to write")
    sheet.set_defaults(func=cmd_sheet)

    from .user_data_cmd import add_parsers

    add_parsers(dsub)  # register: users' own folders


def _data_config(args, **over):
    """The DataConfig the command's flags describe (flags a subcommand lacks keep their defaults)."""
    from ..config import DataConfig
    from ..errors import ConfigError

    cfg = DataConfig(data_dir=args.data_dir, **over)
    if getattr(args, "modalities", None) is not None:
        if args.modalities < 2:
            raise ConfigError(f"--modalities must be at least 2, got {args.modalities}.")
        cfg.polymnist_modalities = args.modalities
    cfg.backgrounds = getattr(args, "backgrounds", None)
    return cfg


def _sources(name: str, data_dir=None, cfg=None):
    """The sources a dataset or source name stands for (``cfg``: the data settings, for datasets
    whose modalities depend on them)."""
    from ..config import DataConfig
    from ..data.datasets import DATASETS
    from ..data.sources import SOURCES
    from ..errors import ConfigError
    from ..registry import closest

    if name in DATASETS:
        return DATASETS.get(name).sources(cfg or DataConfig(dataset=name, data_dir=data_dir))
    if name in SOURCES:
        return [SOURCES.get(name)]
    choices = DATASETS.names() + SOURCES.names()
    raise ConfigError(f"Unknown dataset or source '{name}'.{closest(name, choices)} Choices: {', '.join(choices)}.")


def _folder(source, data_dir) -> Path | None:
    from ..data.sources import mnist_dir, svhn_dir

    if not source.real:
        return None
    return mnist_dir(data_dir) if source.name == "mnist" else svhn_dir(data_dir)


def _files(source) -> list[str]:
    from ..data.mnist import FILES as MNIST_FILES
    from ..data.svhn import FILES as SVHN_FILES

    if source.name == "mnist":
        return [stem for stem, _, _ in MNIST_FILES.values()]
    return [name for name, _ in SVHN_FILES.values()]


def cmd_info(args) -> int:
    from ..data.files import cache_dir
    from ..data.sources import SOURCES

    for name in SOURCES.names():
        s = SOURCES.get(name)
        print(f"{name:11s} {s.description}  [{'×'.join(map(str, s.shape))}, fills '{s.slot}']")
        if not s.real:
            print("            generated on first use; cached under", cache_dir() / "synthetic")
            continue
        folder = _folder(s, args.data_dir)
        for f in _files(s):
            found = [p for p in (folder / f, folder / (f + ".gz")) if p.is_file()]
            state = f"present ({found[0].stat().st_size / 1e6:.1f} MB)" if found else "missing"
            print(f"            {folder / f}: {state}")
    from .user_data_cmd import print_recorded

    print_recorded()
    return 0


def cmd_verify(args) -> int:
    from ..data.mnist import verify_mnist
    from ..data.svhn import verify_svhn

    problems = []
    for s in _sources(args.dataset, args.data_dir):
        if not s.real:
            print(f"{s.name}: generated, nothing to verify")
            continue
        folder = _folder(s, args.data_dir)
        found = (verify_mnist if s.name == "mnist" else verify_svhn)(folder)
        print(f"{s.name}: {'OK' if not found else 'PROBLEMS'} ({folder})")
        problems += [f for f in found if f not in problems]
    for p in problems:
        print("  -", p)
    return 1 if problems else 0


def cmd_prepare(args) -> int:
    from ..data.datasets import DATASETS, load_paired

    cfg = _data_config(args, download=args.download, max_d=args.max_d, dm=args.dm)
    for split in ("train", "test"):
        for s in _sources(args.dataset, args.data_dir, cfg):
            x, y = s.load(split, cfg)
            print(f"{s.name} {split}: {len(y)} images {tuple(x.shape[1:])}")
        if args.dataset in DATASETS:
            cfg.dataset = args.dataset
            data = load_paired(cfg, split)
            print(f"{args.dataset} {split}: {len(data)} pairs (max_d={args.max_d}, dm={args.dm})")
    return 0


def _examples(source, split: str, per_digit: int, cfg) -> torch.Tensor:
    """[10·per_digit, C, H, W] float images, digit-major. The registered synthetic sources draw a
    small sample; real and dataset-specific generated sources (PolyMNIST) load their split."""
    from ..data import synthetic
    from ..data.sources import SOURCES

    if source.real or source.name not in SOURCES:
        x, y = source.load(split, cfg)
    else:
        x, y = synthetic.generate(source.name, max(200, 30 * per_digit), 0, split)
    rows = []
    for d in range(10):
        idx = (y == d).nonzero().flatten()[:per_digit]
        if len(idx) < per_digit:
            raise DataError(f"{source.name} {split} has only {len(idx)} images of digit {d}.")
        rows.append(x[idx])
    return torch.cat(rows).float() / 255


def cmd_sheet(args) -> int:
    from ..data.datasets import DATASETS
    from ..viz.grids import save_grid, to_display

    cfg = _data_config(args, **({"dataset": args.dataset} if args.dataset in DATASETS else {}))
    sources = _sources(args.dataset, args.data_dir, cfg)
    size = max(max(s.shape[1:]) for s in sources)
    parts = [to_display(_examples(s, args.split, args.per_digit, cfg), size) for s in sources]
    n = args.per_digit
    # Interleave per digit: each row holds the digit's images from every source side by side.
    rows = [torch.cat([p[d * n:(d + 1) * n] for p in parts]) for d in range(10)]
    path = save_grid(torch.cat(rows), args.out, nrow=n * len(parts))
    print(f"contact sheet: {path}")
    return 0
