"""``mmvae train``: a run from a config file or preset plus flag overrides (seed flag names work)."""
from __future__ import annotations

import argparse
import copy
from importlib import resources
from pathlib import Path

import yaml

from ..config import RunConfig, differences, set_path
from ..errors import ConfigError

S = argparse.SUPPRESS

# (flags, config path, argparse keywords, help). Only flags given on the command line override
# the config; seed spellings (--batch-size, --latent-dim, --decoder_scale, --max_d, …) are the
# primary names and the dashed forms are aliases.
OPTIONS = [
    ("Data", [
        (["--dataset"], "data.dataset", {}, "paired data: auto (default: mnist_svhn when the real files "
         "are in --data-dir, mnist_synthsvhn with MNIST only, else synthetic), synthetic (generated, no "
         "download), mnist_svhn (real), mnist_synthsvhn (real MNIST + synthetic street digits), synthmnist_svhn, "
         "polymnist (M digit modalities m0 … on different backgrounds; real MNIST digits when --data-dir has them), "
         "or your own data registered with `mmvae data register NAME FOLDER`"),
        (["--data-dir"], "data.data_dir", {"metavar": "DIR"}, "folder with the real MNIST/SVHN files; "
         "downloads go here (default $MMVAE_DATA or ./data)"),
        (["--download"], "data.download", {"action": "store_const", "const": True},
         "download missing real files from the official mirrors"),
        (["--no-verify"], "data.verify", {"action": "store_const", "const": False},
         "skip the MD5 check of real files (for files you made yourself)"),
        (["--max_d", "--max-d"], "data.max_d", {"type": int}, "most images per class taken from each dataset when pairing (seed: 10000)"),
        (["--test-max-d"], "data.test_max_d", {"type": int}, "max_d for the test split (default: --max_d)"),
        (["--dm"], "data.dm", {"type": int}, "pairing rounds: each kept image appears in dm pairs (seed: 30)"),
        (["--pairing-seed"], "data.pairing_seed", {"type": int}, "seed of the pairing permutations"),
        (["--synthetic-train"], "data.synthetic_train", {"type": int}, "synthetic images per modality in the train split"),
        (["--synthetic-test"], "data.synthetic_test", {"type": int}, "synthetic images per modality in the test split"),
        (["--synthetic-seed"], "data.synthetic_seed", {"type": int}, "seed of the synthetic digit generator"),
        (["--modalities"], "data.polymnist_modalities", {"type": int, "metavar": "N"},
         "polymnist: number of modalities (≥ 2)"),
        (["--backgrounds"], "data.backgrounds", {"metavar": "DIR"}, "polymnist: folder whose first N "
         "PNG/JPEG images (by name, each ≥ 28×28) replace the built-in background textures"),
    ]),
    ("Model", [
        (["--model"], "model.model", {"metavar": "NAME"}, "mmvae (mixture of experts; the seed's mnist_svhn), "
         "mvae (product of experts), mopoe (mixture of products of experts), mmvaeplus (MMVAE+: shared and "
         "private latents), vae (unimodal VAE on --modality of --dataset; mnist and svhn are aliases), "
         "fummvae (factorised MMVAE)"),
        (["--modality"], "model.modality", {"metavar": "NAME"}, "the modality a unimodal VAE reads"),
        (["--latent-dim", "--latent_dim"], "model.latent_dim", {"type": int}, "latent size D (seed: 20)"),
        (["--distr"], "model.distr", {}, "Normal or Laplace for prior, posterior and likelihood"),
        (["--likelihood"], "model.likelihood", {}, "the pixel likelihood's family when it differs from --distr: "
         "Normal | Laplace (e.g. the product models' Normal posteriors with a Laplace likelihood)"),
        (["--posterior-scale"], "model.posterior_scale", {}, "auto | exp | softmax (softmax·D, the original's Laplace form)"),
        (["--decoder_scale", "--decoder-scale"], "model.decoder_scale", {"type": float}, "fixed scale of p(x|z) (seed: 0.75)"),
        (["--learn-prior", "--learn_prior"], "model.learn_prior", {"action": "store_const", "const": True},
         "make the prior scale trainable"),
        (["--llik_scaling", "--llik-scaling"], "model.llik_scaling", {"type": float},
         "MNIST likelihood weight λ; 0 = 3·32·32/(28·28) (SVHN λ is 1)"),
        (["--private-latent-dim"], "model.private_latent_dim", {"type": int},
         "fummvae, mmvaeplus: private latent size (default: --latent-dim)"),
        (["--fission-decoder"], "model.options.decoder", {}, "fummvae: separate | joint ([shared, private] decoders)"),
        (["--variant"], "model.options.variant", {}, "mmvaeplus: mmvaeplus (cross-reconstruction with w ~ r_d) | "
         "factorized (MMVAE_f: with the target's own w_d)"),
        (["--random-subsets"], "model.options.random_subsets", {"type": int},
         "mvae: subsets of 2 … M−1 modalities added to the ELBO each step (default 1)"),
    ]),
    ("Networks (seed flags set both modalities; --mnist-*/--svhn-* set one)", [
        (["--no_conv", "--no-conv"], None, {"action": "store_true", "dest": "no_conv"}, "fully connected nets for both modalities"),
        (["--hidden_dims", "--hidden-dims"], None, {"type": int, "nargs": "+", "dest": "hidden_dims"},
         "FC hidden widths, encoder order (seed: 400); e.g. 1024 512 128"),
        (["--fBase", "--fbase"], None, {"type": int, "dest": "fbase"}, "conv base width 16 | 32 | 64 (seed: 32)"),
        (["--mirror-decoder"], None, {"action": "store_true", "dest": "mirror_decoder"},
         "FC decoders use the hidden widths reversed (the seed does not mirror)"),
        (["--mnist-arch"], "model.nets.mnist.arch", {}, "fc | conv for the MNIST modality"),
        (["--mnist-hidden"], "model.nets.mnist.hidden_dims", {"type": int, "nargs": "+"}, "FC hidden widths of the MNIST nets"),
        (["--mnist-fbase"], "model.nets.mnist.fbase", {"type": int}, "conv base width of the MNIST nets"),
        (["--svhn-arch"], "model.nets.svhn.arch", {}, "fc | conv for the SVHN modality"),
        (["--svhn-hidden"], "model.nets.svhn.hidden_dims", {"type": int, "nargs": "+"}, "FC hidden widths of the SVHN nets"),
        (["--svhn-fbase"], "model.nets.svhn.fbase", {"type": int}, "conv base width of the SVHN nets"),
    ]),
    ("Training", [
        (["--obj"], "train.obj", {}, "objective: mmvae: elbo_naive, elbo, iwae, dreg (+ --looser); vae: elbo, iwae, "
         "dreg; mvae, mopoe: elbo; mmvaeplus: elbo, iwae, dreg; fummvae: elbo_all, infoNCE_naive, seed_logistic, "
         "fission"),
        (["--looser"], "train.looser", {"action": "store_const", "const": True},
         "iwae/dreg: average over modalities outside the log (the original's looser bound)"),
        (["--K"], "train.K", {"type": int}, "importance samples per input (default 1 for ELBOs, 20 for iwae/dreg; 10 for MMVAE+ as its authors)"),
        (["--epochs"], "train.epochs", {"type": int}, "training epochs (seed: 10)"),
        (["--batch-size", "--batch_size"], "train.batch_size", {"type": int}, "pairs per step (seed: 256)"),
        (["--lr"], "train.lr", {"type": float}, "Adam learning rate (1e-3)"),
        (["--no-amsgrad"], "train.amsgrad", {"action": "store_const", "const": False}, "plain Adam instead of AMSGrad"),
        (["--seed"], "train.seed", {"type": int}, "run seed: initialisation, shuffling, sampling (seed: 1)"),
        (["--threads"], "train.threads", {"type": int}, "torch CPU threads (0: torch's default)"),
        (["--device"], "train.device", {}, "auto | cpu | cuda | cuda:N"),
        (["--no-cuda"], "train.device", {"action": "store_const", "const": "cpu"}, "same as --device cpu"),
        (["--nan-policy"], "train.nan_policy", {}, "stop (save and exit, the default) | skip (drop the step and count it)"),
        (["--checkpoint-every"], "train.checkpoint_every", {"type": int}, "also checkpoint every N steps (0: at epoch ends)"),
        (["--max-steps"], "train.max_steps", {"type": int}, "at most N steps per epoch (smoke runs)"),
        (["--dreg-as-released"], "train.dreg_as_released", {"action": "store_const", "const": True},
         "reproduce the original DReG, whose gradient hook never fires"),
        (["--compile"], "train.compile", {"action": "store_const", "const": True}, "torch.compile the model"),
        (["--bf16"], "train.bf16", {"action": "store_const", "const": True},
         "bf16 autocast of the networks (GPU; CPUs with bf16 units); see docs/performance.md"),
        (["--no-channels-last"], "train.channels_last", {"action": "store_const", "const": False},
         "keep conv weights in the default layout (channels_last is the default)"),
        (["--no-fast-routes"], "train.fast_routes", {"action": "store_const", "const": False},
         "run the networks as plain PyTorch layers (the CPU fast routes compute the same with the same weights)"),
        (["--no-progress"], "train.progress", {"action": "store_const", "const": False}, "no progress bars"),
        (["--log-to"], "train.log_to", {"type": lambda v: [n.strip() for n in v.split(",") if n.strip()],
         "metavar": "NAMES"}, "experiment trackers, comma-separated: tensorboard, wandb (offline unless WANDB_MODE "
         "is set), mlflow; runs go under the run folder. Each is an extra: pip install 'mmvae[wandb]'"),
    ]),
    ("Evaluation and figures", [
        (["--test-every"], "eval.test_every", {"type": int}, "epochs between test passes"),
        (["--test-K"], "eval.test_K", {"type": int},
         "per-epoch unscaled IWAE log-likelihoods with K samples on 1,000 test pairs (0: off)"),
        (["--test-pairs"], "eval.test_pairs", {}, "distinct (one pairing round, default) | all"),
        (["--probe-every"], "eval.probe_every", {"type": int},
         "also fit the linear probes of the latents every N epochs (their trend in metrics.jsonl; 0: only at the end)"),
        (["--coherence-pairs"], "eval.coherence_pairs", {"type": int},
         "test pairs/tuples the final coherences use (0: all distinct ones)"),
        (["--no-figures"], "eval.figures", {"action": "store_const", "const": False}, "no per-epoch image grids"),
        (["--no-analytics"], "eval.analytics", {"action": "store_const", "const": False}, "no UMAP / KL figures at the end"),
        (["--no-final-eval"], "eval.final_eval", {"action": "store_const", "const": False}, "skip the final metric suite and report"),
    ]),
]


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("mmvae.configs").iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> RunConfig:
    names = preset_names()
    if name not in names:
        from ..registry import closest

        raise ConfigError(f"Unknown preset '{name}'.{closest(name, names)} Presets: {', '.join(names)}.")
    with _preset_file(name) as path:
        return RunConfig.from_yaml(path)


def _preset_file(name: str):
    return resources.as_file(resources.files("mmvae.configs") / f"{name}.yaml")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train (or resume) a VAE, MMVAE or factorised MMVAE",
        description="Train a model. Settings come from --preset or --config, then the flags below "
        "(seed command lines work with `mmvae train` in place of `python main.py`). The run folder "
        "gets config.yaml, metrics.jsonl/.csv, figures/ and checkpoints/.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("Run")
    g.add_argument("--config", metavar="FILE", help="YAML run config (see `mmvae train --preset quickstart` "
                   "and the files in mmvae/configs)")
    g.add_argument("--preset", metavar="NAME", help=f"packaged config: {', '.join(preset_names())}")
    g.add_argument("--run-dir", metavar="DIR", help="run folder (default: runs/<experiment or model>/<time>)")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint with its saved config")
    g.add_argument("--experiment", help="run group name; runs go to runs/<experiment>/")
    g.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="set any config key, e.g. --set train.lr=5e-4 (repeatable)")
    for title, options in OPTIONS:
        g = p.add_argument_group(title)
        for flags, path, kw, help_ in options:
            kw = dict(kw)
            if path is not None:
                kw.setdefault("dest", path)
            g.add_argument(*flags, default=S, help=help_, **kw)
    p.set_defaults(func=run)


def overrides(args) -> dict[str, object]:
    """Config path → value for every flag given on the command line."""
    out: dict[str, object] = {}
    for _, options in OPTIONS:
        for _, path, _, _ in options:
            if path is not None and hasattr(args, path):
                out[path] = getattr(args, path)
    for item in args.set:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. train.lr=5e-4), got '{item}'.")
        key, value = item.split("=", 1)
        import yaml

        out[key.strip()] = yaml.safe_load(value)
    return out


def apply_network_flags(cfg: RunConfig, args) -> None:
    """The seed's network flags act on every modality's NetSpec."""
    for spec in cfg.model.nets.values():
        if getattr(args, "no_conv", False):
            spec.arch = "fc"
        if hasattr(args, "hidden_dims"):
            spec.hidden_dims = list(args.hidden_dims)
        if hasattr(args, "fbase"):
            spec.fbase = args.fbase
        if getattr(args, "mirror_decoder", False):
            spec.mirror_decoder = True


def config_from_args(args) -> tuple[RunConfig, bool]:
    """(resolved config, resume?) from the parsed ``train`` arguments."""
    over = overrides(args)
    if args.resume:
        if args.config or args.preset or args.run_dir:
            raise ConfigError("--resume takes the run's saved config and folder; drop --config/--preset/--run-dir.")
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"{run_dir} is not a run folder (no config.yaml). Pass the folder "
                              "`mmvae train` printed at the end of the run.")
        cfg = RunConfig.from_yaml(run_dir / "config.yaml")
        wanted = copy.deepcopy(cfg)
        apply_network_flags(wanted, args)
        _apply(wanted, over)
        changed = [c for c in differences(cfg, wanted, roles=("run",)) if not _same_model(*c)]
        if changed:
            listed = "; ".join(f"{path}: {old!r} in the run, {new!r} asked" for path, old, new in changed)
            raise ConfigError(
                f"--resume continues a run with its saved settings, and these would change it: {listed}. "
                "Start a new run for other settings; a resumed run may change only how long it runs "
                "(train.epochs), where and how it runs (device, threads, progress, data_dir, …) and what is "
                "measured (eval.*)."
            )
        wanted.run_dir = str(run_dir)
        return wanted, True
    if args.config and args.preset:
        raise ConfigError("Give either --config or --preset, not both.")
    cfg = load_preset(args.preset) if args.preset else (
        RunConfig.from_yaml(args.config) if args.config else RunConfig())
    apply_network_flags(cfg, args)
    _apply_model_defaults(cfg, over, _file_paths(args))
    if args.run_dir:
        cfg.run_dir = args.run_dir
    if args.experiment is not None:
        cfg.experiment = args.experiment
    _apply(cfg, over)
    return cfg, False


def _file_paths(args) -> set[str]:
    """The dotted paths that the preset or config file sets explicitly."""
    if args.preset:
        with _preset_file(args.preset) as path:
            raw = yaml.safe_load(path.read_text()) or {}
    elif args.config:
        raw = yaml.safe_load(Path(args.config).read_text()) or {}
    else:
        return set()

    def walk(d, prefix):
        for key, value in d.items():
            if isinstance(value, dict) and key not in ("nets", "options"):  # those two are values
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    return set(walk(raw, "")) if isinstance(raw, dict) else set()


def _apply_model_defaults(cfg: RunConfig, over: dict, file_paths: set[str]) -> None:
    """A model brings its own defaults (MMVAE+: the authors' PolyMNIST settings). Chosen on the
    command line, they replace the file's values except the flags given; chosen in a file, they
    fill in what the file leaves out."""
    from ..models import resolve_model

    on_command_line = "model.model" in over
    for path, value in resolve_model(over.get("model.model", cfg.model.model))[0].defaults.items():
        if path not in over and (on_command_line or path not in file_paths):
            set_path(cfg, path, value)


def _same_model(path: str, old, new) -> bool:
    """An alias for the run's own model (``mnist_svhn`` for ``mmvae``) is no change."""
    if path != "model.model":
        return False
    from ..models import resolve_model

    try:
        return resolve_model(old) == resolve_model(new)
    except ConfigError:
        return False


def _apply(cfg: RunConfig, over: dict) -> None:
    for path, value in over.items():
        try:
            set_path(cfg, path, value)
        except (AttributeError, KeyError):
            raise ConfigError(f"Unknown config key '{path}' in --set.") from None


def run(args) -> int:
    from .. import pipeline

    cfg, resume = config_from_args(args)
    run_dir = pipeline.train(cfg, resume=resume)
    if pipeline.is_rank_zero():
        print(f"run folder: {run_dir}")
    return 0
