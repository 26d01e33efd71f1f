"""``mmvae push``: a trained run's model (and its report) to the Hugging Face Hub."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "push", help="upload a trained run's model to the Hugging Face Hub (needs pip install 'mmvae[hub]')",
        description="Saves the last checkpoint of RUN_DIR as model.safetensors + config.json (what "
        "mmvae.from_pretrained loads), adds the run's report.md as the repo's README.md, and uploads them to "
        "the Hub repo REPO_ID (created if needed). Log in first with `hf auth login` or set HF_TOKEN.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder written by `mmvae train`")
    p.add_argument("repo_id", metavar="REPO_ID", help="the Hub repo, user/name or organisation/name")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--message", help="commit message (default: mmvae push <run folder name>)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..pipeline.pretrained import push_run

    url = push_run(args.run_dir, args.repo_id, private=args.private, message=args.message)
    print(f"pushed {args.run_dir} to {url}")
    print(f'load it with: mmvae.from_pretrained("{args.repo_id}")')
    return 0
