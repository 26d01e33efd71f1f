"""Flattening a metrics dict into labelled table rows, shared by reports and comparisons."""
from __future__ import annotations


def pretty(name: str) -> str:
    return name.replace("_to_", " → ").replace("_given_", " given ").replace("_", " ")


def metric_rows(metrics: dict, per_target: bool = False) -> list[tuple[str, float, str]]:
    """(label, value, unit) for every headline number; percentages as 0..100. ``per_target``
    adds, under each coherence given k, its breakdown by target modality."""
    rows: list[tuple[str, float, str]] = []
    for pair, v in metrics.get("cross_coherence", {}).items():
        rows.append((f"Cross coherence {pretty(pair)}", 100 * v["accuracy"], "%"))
    cond = metrics.get("conditional_coherence", {})
    n_modalities = int(max(map(int, cond["given_k"]))) + 1 if cond.get("given_k") else 0
    for k, v in cond.get("given_k", {}).items():
        rows.append((f"Coherence given {k} of {n_modalities} modalities", 100 * v, "%"))
        if per_target:
            for target, acc in cond.get("per_target_given_k", {}).get(k, {}).items():
                rows.append((f"Coherence given {k} of {n_modalities} → {target}", 100 * acc, "%"))
    if "joint_coherence" in metrics:
        rows.append(("Joint coherence", 100 * metrics["joint_coherence"]["accuracy"], "%"))
    if "synergy" in metrics:
        rows.append(("Synergy (joint posterior)", 100 * metrics["synergy"]["accuracy"], "%"))
    if "generation_quality" in metrics:
        g = metrics["generation_quality"]
        rows.append(("Reconstruction digit accuracy", 100 * g["reconstruction_accuracy"], "%"))
        rows.append(("Generation classifier confidence", 100 * g["generation_confidence"], "%"))
        rows.append(("Generated digit entropy", g["generation_digit_entropy"], "nats"))
    for key, label in (("test_loss", "Test loss (−objective per item)"), ("test_kl", "Test KL(q‖p) per item")):
        if key in metrics:
            rows.append((label, metrics[key], "nats"))
    for name, v in metrics.get("latent_accuracy", {}).items():
        rows.append((f"Latent accuracy {pretty(name)}", 100 * v, "%"))
    for name, v in metrics.get("likelihood", {}).items():
        rows.append((f"log p: {pretty(name)}", v, "nats"))
    return rows


def format_value(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.2f}%"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
