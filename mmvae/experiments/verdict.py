"""The factorised study's question, answered from its runs' metrics: do MMVAE+'s private latents
hold the modality's style but not the shared digit, at no cost to the shared side?

Criterion (issue "MMVAE+"): MMVAE+'s private-latent digit probe ≤ 30% on every modality while its
cross coherence and shared probe are at least the plain MMVAE's at the same budget.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

PRIVATE_MAX = 0.30


def _metrics(run_dirs: dict[Path, str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for run_dir, label in run_dirs.items():
        path = run_dir / "metrics.json"
        if path.is_file():
            out.setdefault(label, []).append(json.loads(path.read_text()))
    return out


def cross_coherence(m: dict) -> float:
    """Mean coherence given one modality (the ordered pairs for M = 2, k = 1 for more)."""
    if "conditional_coherence" in m:
        return m["conditional_coherence"]["given_k"]["1"]
    cc = m.get("cross_coherence", {})
    return statistics.fmean(v["accuracy"] for v in cc.values()) if cc else float("nan")


def probes(m: dict, part: str) -> list[float]:
    """Probe accuracies of the shared (a model without private latents: its only) or private latents."""
    acc = m.get("latent_accuracy", {})
    if part == "private":
        return [v for k, v in acc.items() if k.endswith("_private")]
    shared = [v for k, v in acc.items() if k.endswith("_shared")]
    return shared or [v for k, v in acc.items() if not k.endswith("_private")]


def summary(runs: list[dict]) -> dict[str, float]:
    """Means over seeds: cross coherence, mean shared probe, worst (largest) private probe."""
    return {"cross": statistics.fmean(cross_coherence(m) for m in runs),
            "shared": statistics.fmean(statistics.fmean(probes(m, "shared")) for m in runs),
            "private_max": max((max(probes(m, "private"), default=float("nan")) for m in runs),
                               default=float("nan"))}


def verdict_lines(run_dirs: dict[Path, str], plus: str, baseline: str) -> list[str]:
    """Markdown lines stating the criterion for one dataset and whether MMVAE+ meets it."""
    found = _metrics(run_dirs)
    if plus not in found or baseline not in found:
        return [f"- {plus} vs {baseline}: not all runs have finished; no verdict."]
    p, b = summary(found[plus]), summary(found[baseline])
    private_ok = p["private_max"] <= PRIVATE_MAX
    cross_ok, shared_ok = p["cross"] >= b["cross"], p["shared"] >= b["shared"]
    met = private_ok and cross_ok and shared_ok
    return [f"- **{plus}: criterion {'met' if met else 'not met'}.** Largest private-latent digit probe "
            f"{100 * p['private_max']:.1f}% ({'≤' if private_ok else '>'} {100 * PRIVATE_MAX:.0f}%); cross "
            f"coherence {100 * p['cross']:.1f}% vs {100 * b['cross']:.1f}% for {baseline} "
            f"({'at least' if cross_ok else 'below'}); mean shared probe {100 * p['shared']:.1f}% vs "
            f"{100 * b['shared']:.1f}% ({'at least' if shared_ok else 'below'})."]
