"""Entry point of the ``mmvae`` command: builds the parser and turns user errors into messages."""
from __future__ import annotations

import argparse
import os
import sys
import textwrap
import warnings

from .. import __version__
from ..allocator import tune_allocator
from ..errors import MMVAEError

DESCRIPTION = """\
mmvae: multimodal variational autoencoders (MMVAE and the factorised MMVAE) on paired
MNIST-SVHN, real or synthetic.

Start with `mmvae train --preset quickstart`, which needs no download. Every subcommand has its
own --help. Errors print one paragraph saying what went wrong and how to fix it; add --debug to
see the traceback as well."""


def build_parser() -> argparse.ArgumentParser:
    from . import (
        classifiers_cmd,
        compare_cmd,
        data_cmd,
        evaluate_cmd,
        experiment_cmd,
        generate_cmd,
        push_cmd,
        train_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="mmvae", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"mmvae {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (train_cmd, evaluate_cmd, generate_cmd, compare_cmd, experiment_cmd, classifiers_cmd, data_cmd,
                   push_cmd):
        module.add_parser(sub)
    return parser


def _report(message: str) -> None:
    width = max(60, min(100, os.get_terminal_size(2).columns if sys.stderr.isatty() else 100))
    print(textwrap.fill("error: " + message, width=width, break_long_words=False,
                        break_on_hyphens=False), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    debug = args.debug or os.environ.get("MMVAE_DEBUG") == "1"
    tune_allocator()  # 10-15% faster steps on CPU; MMVAE_MALLOC_TUNING=0 turns it off
    if not debug:
        warnings.filterwarnings("ignore", message=".*TracerWarning.*")
    try:
        return int(args.func(args) or 0)
    except MMVAEError as e:
        if debug:
            raise
        _report(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted. A run continues from its last checkpoint with "
              "`mmvae train --resume RUN_DIR`.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
