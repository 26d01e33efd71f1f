"""Flattening a metrics dict into labelled table rows, shared by reports and comparisons."""
from __future__ import annotations


def pretty(name: str) -> str:
    return name.replace("_to_", " → ").replace("_given_", " given ").replace("_", " ")


def metric_rows(metrics: dict) -> list[tuple[str, float, str]]:
    """(label, value, unit) for every headline number; percentages as 0..100."""
    rows: list[tuple[str, float, str]] = []
    for pair, v in metrics.get("cross_coherence", {}).items():
        rows.append((f"Cross coherence {pretty(pair)}", 100 * v["accuracy"], "%"))
    if "joint_coherence" in metrics:
        rows.append(("Joint coherence", 100 * metrics["joint_coherence"]["accuracy"], "%"))
    if "synergy" in metrics:
        rows.append(("Synergy (joint posterior)", 100 * metrics["synergy"]["accuracy"], "%"))
    for name, v in metrics.get("latent_accuracy", {}).items():
        rows.append((f"Latent accuracy {pretty(name)}", 100 * v, "%"))
    for name, v in metrics.get("likelihood", {}).items():
        rows.append((f"log p: {pretty(name)}", v, "nats"))
    return rows


def format_value(value: float, unit: str) -> str:
    return f"{value:.2f}%" if unit == "%" else f"{value:.1f}"
