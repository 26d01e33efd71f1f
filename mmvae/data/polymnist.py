"""PolyMNIST: M aligned modalities of one digit class on different backgrounds (no download).

The recipe of Sutter, Daunhawer & Vogt (2021, MoPoE-VAE): a tuple shares only its digit class;
each modality ``m{i}`` draws its own random image of that class (real MNIST when the data
folder has it, else the embedded synthetic handwriting), binarises it (pixel > 128 is digit)
and pastes it on a random 28×28 crop of the modality's background, whose colours are inverted
(255 − value) under the digit. Backgrounds are procedural textures (:mod:`.textures`) or the
user's own images (``data.backgrounds``). Every modality is generated on its own from seeds
derived from (synthetic_seed, split, modality), so one modality can be loaded without the others
and the result is deterministic.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

from ..errors import DataError
from .datasets import DatasetInfo, aligned_tuples, register_dataset
from .mnist import FILES as MNIST_FILES
from .mnist import load_mnist
from .paired import PairedData
from .sources import Source, load_synthetic, mnist_dir
from .textures import textures

POLYMNIST_VERSION = 1
DEFAULT_M = 5
SIZE = 28
TEXTURE_SIZE = 256
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _gen(*parts) -> torch.Generator:
    """A generator seeded from any JSON-able parts (independent streams per purpose)."""
    digest = hashlib.sha256(json.dumps(["polymnist", *parts]).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def n_modalities(cfg) -> int:
    return int(getattr(cfg, "polymnist_modalities", DEFAULT_M)) if cfg is not None else DEFAULT_M


def modality_names(M: int) -> list[str]:
    return [f"m{i}" for i in range(M)]


# ---------------------------------------------------------------------- digits


def digit_source(cfg) -> str:
    """``mnist`` when the data folder holds real MNIST (or --download is given), else ``synthmnist``."""
    if cfg is None:
        return "synthmnist"
    stem = MNIST_FILES[("train", "labels")][0]
    folder = mnist_dir(cfg.data_dir)
    if getattr(cfg, "download", False) or (folder / stem).is_file() or (folder / (stem + ".gz")).is_file():
        return "mnist"
    return "synthmnist"


def load_digits(cfg, split: str) -> tuple[Tensor, Tensor]:
    """(uint8 [N, 1, 28, 28], int64 labels) of the digit source's ``split``."""
    if digit_source(cfg) == "mnist":
        return load_mnist(mnist_dir(cfg.data_dir), split, cfg.download, cfg.verify)
    n = cfg.synthetic_train if split == "train" else cfg.synthetic_test
    return load_synthetic("synthmnist", n, cfg.synthetic_seed, split)


def tuple_labels(y_src: Tensor, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """(labels, rank) of n tuples: the labels of seeded passes over the digit source, so the
    classes are as balanced as the source's; rank[i] counts the earlier tuples of label[i]."""
    passes = -(-n // len(y_src))
    order = torch.cat([torch.randperm(len(y_src), generator=gen) for _ in range(passes)])[:n]
    labels = y_src[order]
    by_class = torch.sort(labels, stable=True).indices
    counts = torch.bincount(labels, minlength=int(y_src.max()) + 1)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(labels)
    rank[by_class] = torch.arange(n) - starts[labels[by_class]]
    return labels, rank


def pick_images(y_src: Tensor, labels: Tensor, rank: Tensor, gen: torch.Generator) -> Tensor:
    """Source indices of one image of each tuple's class: a seeded shuffle of each class,
    read in rank order (without repeats while a class has images left)."""
    keys = y_src.double() + torch.rand(len(y_src), generator=gen, dtype=torch.float64) * 0.5
    shuffled = torch.argsort(keys, stable=True)
    counts = torch.bincount(y_src, minlength=int(labels.max()) + 1)
    starts = torch.cumsum(counts, 0) - counts
    return shuffled[starts[labels] + rank % counts[labels]]


# ---------------------------------------------------------------------- backgrounds


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _as_rgb_uint8(img, path: Path) -> Tensor:
    """An image array from imread as uint8 [H, W, 3] (grey is repeated, alpha dropped)."""
    t = torch.as_tensor(img.copy())
    if t.dtype != torch.uint8:
        t = (t.double().clamp(0, 1) * 255).round().to(torch.uint8)
    if t.ndim == 2:
        t = t[..., None]
    if t.ndim != 3:
        raise DataError(f"Background image {path} has shape {tuple(t.shape)}, not an image; replace it "
                        "with an RGB or greyscale PNG/JPEG.")
    t = t[..., :3] if t.shape[2] >= 3 else t[..., :1].expand(-1, -1, 3)
    return t.contiguous()


def read_backgrounds(folder: str | Path, M: int) -> list[Tensor]:
    """The first M images (PNG/JPEG, sorted by name) of ``folder`` as uint8 [H, W, 3]."""
    import matplotlib.image

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"The backgrounds folder {root} does not exist or is not a folder. Point "
                        "--backgrounds at a folder with one PNG or JPEG image per modality, or leave it "
                        "out to use the built-in textures.")
    try:
        files = _image_files(root)
    except OSError as e:
        raise DataError(f"The backgrounds folder {root} could not be listed ({e.strerror}). Fix its "
                        "permissions or point --backgrounds at another folder.") from None
    if len(files) < M:
        raise DataError(f"The backgrounds folder {root} holds {len(files)} PNG/JPEG images, but PolyMNIST "
                        f"with {M} modalities needs {M} (one per modality, the first {M} by name). Add "
                        f"images, or pass --modalities {max(len(files), 2)}.")
    out = []
    for path in files[:M]:
        try:
            img = matplotlib.image.imread(path)
        except (OSError, ValueError, SyntaxError) as e:
            raise DataError(f"Background image {path} could not be read ({e.__class__.__name__}: {e}). "
                            "Replace it with a valid PNG or JPEG file or remove it from the folder.") from None
        rgb = _as_rgb_uint8(img, path)
        if rgb.shape[0] < SIZE or rgb.shape[1] < SIZE:
            raise DataError(f"Background image {path} is {rgb.shape[1]}×{rgb.shape[0]} pixels; PolyMNIST "
                            f"crops {SIZE}×{SIZE} patches from it, so it must be at least {SIZE}×{SIZE}. "
                            "Use a larger image.")
        out.append(rgb)
    return out


def backgrounds_key(cfg) -> list | None:
    """What identifies the user's backgrounds: the folder and a digest of its first M images."""
    folder = getattr(cfg, "backgrounds", None)
    if not folder:
        return None
    root = Path(folder).resolve()
    h = hashlib.sha256()
    try:
        for path in _image_files(root)[: n_modalities(cfg)]:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    except OSError:
        pass  # a missing or unreadable folder fails with a clear message when the images are read
    return [str(root), h.hexdigest()[:16]]


# ---------------------------------------------------------------------- compositing


def composite(digits: Tensor, crops: Tensor) -> Tensor:
    """uint8 [n, 3, H, W]: the crops with their colours inverted (255 − v) where the digit
    (pixel > 128 of ``digits`` [n, 1, H, W]) is. For uint8, 255 − v is v XOR 255."""
    return crops ^ (digits > 128).to(torch.uint8).mul_(255)


def random_crops(bg: Tensor, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Top-left corners (y, x) of n random SIZE×SIZE crops of ``bg`` [H, W, 3]."""
    h, w = bg.shape[:2]
    return (torch.randint(0, h - SIZE + 1, (n,), generator=gen),
            torch.randint(0, w - SIZE + 1, (n,), generator=gen))


def row_windows(bg: Tensor) -> Tensor:
    """[H, W − SIZE + 1, 3, SIZE]: every SIZE-pixel run of every row, channel-first, so that a
    crop is SIZE row gathers instead of SIZE² pixel gathers."""
    return bg.permute(0, 2, 1).unfold(2, SIZE, 1).permute(0, 2, 1, 3).contiguous()


def crop(windows: Tensor, ys: Tensor, xs: Tensor) -> Tensor:
    """uint8 [n, 3, SIZE, SIZE]: the crops at corners (ys, xs) of the background whose
    :func:`row_windows` are ``windows``."""
    h, w = windows.shape[:2]
    rows = (ys[:, None] + torch.arange(SIZE)) * w + xs[:, None]
    picked = torch.index_select(windows.view(h * w, 3 * SIZE), 0, rows.view(-1))
    return picked.view(len(ys), SIZE, 3, SIZE).permute(0, 2, 1, 3)


def render_modality(digits: Tensor, idx: Tensor, bg: Tensor, gen: torch.Generator) -> Tensor:
    """uint8 [n, 3, 28, 28]: digits[idx] pasted on random crops of ``bg`` [H, W, 3]."""
    ys, xs = random_crops(bg, len(idx), gen)
    out = crop(row_windows(bg), ys, xs).contiguous()
    out ^= (digits[idx] > 128).to(torch.uint8).mul_(255)  # 255 − v where the digit is
    return out


# ---------------------------------------------------------------------- generation


def generate(cfg, split: str, which: list[int] | None = None) -> tuple[list[Tensor], Tensor]:
    """([uint8 [N, 3, 28, 28] per modality in ``which`` (default all)], int64 labels [N])."""
    M = n_modalities(cfg)
    which = list(range(M)) if which is None else which
    n = cfg.synthetic_train if split == "train" else cfg.synthetic_test
    x_src, y_src = load_digits(cfg, split)
    seed, src = cfg.synthetic_seed, digit_source(cfg)
    labels, rank = tuple_labels(y_src, n, _gen(seed, split, src, "labels"))
    if getattr(cfg, "backgrounds", None):
        bgs = read_backgrounds(cfg.backgrounds, M)
    else:
        bgs = textures(M, seed, TEXTURE_SIZE)
    images = []
    for m in which:
        idx = pick_images(y_src, labels, rank, _gen(seed, split, src, "pick", m))
        images.append(render_modality(x_src, idx, bgs[m], _gen(seed, split, src, "crop", m)))
    return images, labels


def content(cfg) -> list:
    """What a modality's images are drawn from (judges are kept per distribution): the recipe's
    version, the texture seed, the digit source and the backgrounds. Modality m's images do not
    depend on how many modalities there are or on how many tuples are drawn."""
    return [POLYMNIST_VERSION, cfg.synthetic_seed, digit_source(cfg), backgrounds_key(cfg)]


def _modality_loader(m: int):
    def load(split, cfg):
        images, labels = generate(cfg, split, [m])
        return images[0], labels

    return load


def sources(cfg=None) -> list[Source]:
    """One generated source per modality, ``m0`` … ``m{M-1}``, each 3×28×28."""
    return [Source(f"polymnist_{name}", name, (3, SIZE, SIZE), False, _modality_loader(m),
                   f"PolyMNIST modality {m}: a digit on background {m} (3×28×28)", content)
            for m, name in enumerate(modality_names(n_modalities(cfg)))]


def load(cfg, split: str) -> PairedData:
    """The split's aligned tuples (item i is image i of every modality)."""
    images, labels = generate(cfg, split)
    srcs = sources(cfg)
    return aligned_tuples([s.slot for s in srcs], [s.name for s in srcs], images, labels, num_classes=10)


register_dataset(DatasetInfo(
    "polymnist", "PolyMNIST: M digit modalities on different backgrounds (--modalities, --backgrounds)",
    sources, load))
