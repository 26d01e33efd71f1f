"""``mmvae compare``: one table across evaluated runs (Markdown, CSV, HTML)."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="table of metrics across runs (mean ± std over seeds)",
                       description="Rows are metrics, columns are runs, or groups of runs that differ "
                       "only in their seed (--group-by seed, the default), shown as mean ± std.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="evaluated run folders (with metrics.json)")
    p.add_argument("--group-by", choices=("seed", "none"), default="seed")
    p.add_argument("--out", default="comparison", help="output path prefix for .md, .csv and .html")
    p.add_argument("--per-target", action="store_true",
                   help="under each 'coherence given k' row (runs of 3 or more modalities), its value per "
                   "target modality")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report.compare import compare

    paths = compare(args.run_dirs, args.out, args.group_by, per_target=args.per_target)
    print(paths["md"].read_text(), end="")
    print("written:", ", ".join(str(p) for p in paths.values()))
    return 0
