"""The PolyMNIST conv layers (fBase 32, 3×28×28) in both memory layouts: forward and forward +
backward milliseconds of each encoder and decoder convolution, channels_last against the
standard (NCHW) layout MultiVae runs in, stock PyTorch layers, one process.

    python benchmarks/conv_layouts.py [--batch 640 128] [--repeats 20]

At batch 640 a decoder reads the mixture's five latents per item at M = 5; at 128, one.
"""
from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.nn.functional as F

from mmvae.allocator import tune_allocator

# name: (in channels, out channels, kernel, side of the input, transposed)
LAYERS = {
    "encoder 3→32": (3, 32, 4, 28, False),
    "encoder 32→64": (32, 64, 4, 14, False),
    "encoder 64→128": (64, 128, 4, 7, False),
    "decoder 128→64 (3×3)": (128, 64, 3, 4, True),
    "decoder 64→32": (64, 32, 4, 7, True),
    "decoder 32→3": (32, 3, 4, 14, True),
}
PADDING = {3: 1, 4: 1}


def time_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, nargs="+", default=[640, 128])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    tune_allocator()
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print("| batch | layer | NCHW fwd | channels_last fwd | NCHW fwd+bwd | channels_last fwd+bwd |")
    print("|---|---|---|---|---|---|")
    for n in args.batch:
        for name, (c_in, c_out, k, side, transposed) in LAYERS.items():
            cells = {}
            for layout in (torch.contiguous_format, torch.channels_last):
                x = torch.randn(n, c_in, side, side).contiguous(memory_format=layout).requires_grad_(transposed)
                shape = (c_in, c_out, k, k) if transposed else (c_out, c_in, k, k)
                w = torch.randn(shape).contiguous(memory_format=layout).requires_grad_()
                conv = F.conv_transpose2d if transposed else F.conv2d
                y = conv(x, w, None, 2, PADDING[k])
                g = torch.randn_like(y)
                def forward(conv=conv, x=x, w=w, pad=PADDING[k]):
                    return conv(x, w, None, 2, pad)

                cells[layout, "fwd"] = time_ms(forward, args.repeats)
                cells[layout, "both"] = time_ms(lambda forward=forward, g=g: forward().backward(g), args.repeats)
            nchw, cl = torch.contiguous_format, torch.channels_last
            print(f"| {n} | {name} | {cells[nchw, 'fwd']:.2f} | {cells[cl, 'fwd']:.2f} | "
                  f"{cells[nchw, 'both']:.2f} | {cells[cl, 'both']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
