"""``mmvae generate``: joint generation, reconstruction and cross-generation from a trained run."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "generate", help="sample from a trained run: joint, conditional (any modality → any other) or reconstruction",
        description="Without --from: joint samples z ~ p(z) decoded into every modality (or --to). "
        "With --from A --to B: the first row shows test inputs of A, the rows below samples of B "
        "decoded from q(z|A) (A = B reconstructs, except that models with private latents draw those from their "
        "prior here).")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `mmvae train`")
    p.add_argument("--from", dest="source", metavar="MODALITY", help="condition on this modality's test inputs")
    p.add_argument("--to", dest="target", metavar="MODALITY", help="modality to generate (default: all)")
    p.add_argument("-n", "--n", type=int, default=8, help="inputs (conditional) or samples per modality (joint ×8)")
    p.add_argument("--samples", type=int, default=1, help="conditional: samples drawn per input")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--out", metavar="DIR", help="output folder (default RUN_DIR/generated)")
    p.add_argument("--data-dir", metavar="DIR", help="where the run's real data lives, if not where it was trained")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from .. import pipeline
    from ..errors import ConfigError
    from ..viz.grids import save_grid, to_display

    loaded = pipeline.load_run(args.run_dir)
    model, names = loaded.model, loaded.model.names
    out_dir = Path(args.out or Path(args.run_dir) / "generated")
    for m in (args.source, args.target):
        if m is not None and m not in names:
            raise ConfigError(f"This run's model has modalities {', '.join(names)}; '{m}' is not one of them.")
    if args.n < 1 or args.samples < 1:
        raise ConfigError("--n and --samples must be at least 1.")
    torch.manual_seed(args.seed)
    written = []
    with torch.no_grad():
        if args.source is None:
            for name, imgs in zip(names, model.generate(args.n * 8)):
                if args.target in (None, name):
                    written.append(save_grid(imgs, out_dir / f"joint_{name}.png"))
        else:
            if args.data_dir:
                loaded.cfg.data.data_dir = args.data_dir
            test = pipeline.load_data(loaded.cfg, splits=("test",))["test"].distinct()
            xs, _ = pipeline.figure_batch(test, args.seed, args.n)
            src = names.index(args.source)
            targets = [args.target] if args.target else names
            for t in targets:
                d = names.index(t)
                rows = [model.translate(xs[src], src)[d] for _ in range(args.samples)]
                size = max(xs[src].shape[-1], rows[0].shape[-1])
                grid = torch.cat([to_display(xs[src], size)] + [to_display(r, size) for r in rows])
                written.append(save_grid(grid, out_dir / f"{args.source}_to_{t}.png", nrow=len(xs[src])))
    for path in written:
        print(path)
    return 0
