"""``mmvae data register NAME FOLDER`` and the list of registered folders in ``mmvae data info``."""
from __future__ import annotations

import argparse

REGISTER_HELP = """\
Check a folder of your paired images and record it as the dataset NAME, so that later commands
(`mmvae train --dataset NAME`, `mmvae evaluate`) find it.

Layout: one sub-folder per modality holding its images (PNG), and pairs.csv with a header
naming one column per modality (its sub-folder), 'split' (train or test) and optionally
'label' (an integer class 0 ... C-1 per tuple); each row is one tuple of image files:

  FOLDER/pairs.csv        photo,sketch,label,split
                          0001.png,0001.png,3,train
  FOLDER/photo/0001.png   ...
  FOLDER/sketch/0001.png

Without labels, training, likelihoods and figures work; coherence needs labels. The record is
kept in $MMVAE_DATASETS (default: datasets.json in the cache folder)."""


def add_parsers(dsub) -> None:
    """Adds ``register`` to the ``mmvae data`` subcommands."""
    reg = dsub.add_parser("register", help="check a folder of your paired images and record it as a dataset",
                          description=REGISTER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    reg.add_argument("name", metavar="NAME", help="the dataset's name (for --dataset)")
    reg.add_argument("folder", metavar="FOLDER", help="the folder with pairs.csv and one sub-folder per modality")
    reg.set_defaults(func=cmd_register)


def cmd_register(args) -> int:
    from ..data.custom import register_folder
    from ..data.folders import registry_path

    info = register_folder(args.name, args.folder, remember=True)
    print(f"{args.name}: {info.description}")
    for s in info.sources(None):
        print(f"  modality {s.slot}: {'×'.join(map(str, s.shape))}")
    print(f"recorded in {registry_path()}; train with `mmvae train --dataset {args.name}`")
    return 0


def print_recorded() -> None:
    """The folders recorded by ``mmvae data register`` (for ``mmvae data info``)."""
    from pathlib import Path

    from ..data.folders import recorded_folders, registry_path

    found = recorded_folders()
    print(f"your datasets ({registry_path()}):" if found else
          "your datasets: none registered (`mmvae data register NAME FOLDER`)")
    for name, folder in sorted(found.items()):
        state = "" if (Path(folder) / "pairs.csv").is_file() else "  (missing: register it again)"
        print(f"  {name:11s} {folder}{state}")
