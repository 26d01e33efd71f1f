"""The Hugging Face Hub transport (the optional ``hub`` extra): ``download`` fetches a repo for
:func:`~mmvae.pipeline.pretrained.from_pretrained`, ``upload`` sends a saved folder for
``mmvae push``. Only ``huggingface_hub`` talks to the network; a missing package or a failed
transfer is one paragraph that says what to do.
"""
from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

from ..errors import ConfigError

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
INSTALL = "pip install 'mmvae[hub]'"


def looks_like_repo_id(text: str) -> bool:
    """``user/name`` (one slash, no path syntax such as ./, ../, ~ or a leading /)."""
    return bool(REPO_ID.fullmatch(text)) and ".." not in text


def import_hub(purpose: str) -> ModuleType:
    """The huggingface_hub module, or a ConfigError naming the extra to install."""
    try:
        import huggingface_hub
    except ImportError:
        raise ConfigError(f"{purpose} needs the huggingface_hub package, which is not installed: {INSTALL} "
                          "(or pip install huggingface_hub). Nothing was downloaded or uploaded.") from None
    return huggingface_hub


def download(repo_id: str, revision: str | None = None) -> Path:
    """A local copy of the Hub repo ``repo_id`` (huggingface_hub's cache)."""
    hub = import_hub(f"'{repo_id}' is not a local folder, so it was taken for a Hugging Face Hub repo id; "
                     "downloading it")
    try:
        return Path(hub.snapshot_download(repo_id=repo_id, revision=revision, library_name="mmvae"))
    except (OSError, ValueError) as e:  # huggingface_hub's HTTP, not-found and validation errors
        raise ConfigError(
            f"Could not download '{repo_id}' from the Hugging Face Hub ({type(e).__name__}: {_first_line(e)}). "
            "If you meant a local folder, it does not exist: check the path. Otherwise check the repo id and the "
            "network; a private repo needs a login (`hf auth login`, or the HF_TOKEN variable).") from None


def upload(folder: Path, repo_id: str, private: bool = False, message: str | None = None) -> str:
    """Uploads ``folder`` to the Hub repo ``repo_id`` (created if needed); returns the repo's URL."""
    hub = import_hub("`mmvae push`")
    api = hub.HfApi()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=message or "mmvae push")
    except (OSError, ValueError) as e:  # huggingface_hub's HTTP and validation errors
        raise ConfigError(
            f"Could not upload to '{repo_id}' on the Hugging Face Hub ({type(e).__name__}: {_first_line(e)}). "
            "Log in first (`hf auth login`, or set HF_TOKEN to a token with write access), check the repo id "
            "and the network, then push again.") from None
    return str(url)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else "no details"
