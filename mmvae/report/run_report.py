"""One run's report: metrics.json (every number + protocol), report.md and a self-contained
report.html (figures embedded as data URIs). Files are written to a temporary name and renamed,
so a failure never leaves half a report."""
from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

from ..errors import OutputError
from ..utils import atomic_write_text
from .rows import format_value, metric_rows


def _latest(folder: Path, pattern: str) -> list[Path]:
    """Files of the last epoch for names like gen_svhn_007.png (pattern without the epoch)."""
    found: dict[str, tuple[int, Path]] = {}
    for p in folder.glob(pattern):
        m = re.match(r"(.*)_(\d{3})\.png$", p.name)
        if m and (m.group(1) not in found or int(m.group(2)) > found[m.group(1)][0]):
            found[m.group(1)] = (int(m.group(2)), p)
    return [p for _, p in sorted(found.values(), key=lambda t: t[1].name)]


def report_figures(run_dir: Path) -> list[tuple[str, Path]]:
    fig = run_dir / "figures"
    out = [("Loss curves", fig / "loss_curves.png")]
    out += [(f"Generation {p.stem.split('_')[1]} (epoch {p.stem[-3:]})", p) for p in _latest(fig, "gen_*.png")]
    out += [(f"Reconstruction {p.stem[6:-4].replace('_to_', ' → ')} (epoch {p.stem[-3:]})", p)
            for p in _latest(fig, "recon_*.png")]
    for p in _latest(fig, "split_*.png"):
        name, held = p.stem[6:-4].rsplit("_fixed_", 1)
        what = ("shared latent held, private latent drawn per row (style should vary, content stay)"
                if held == "shared" else "private latent held, shared latents of other items per row "
                "(content should vary, style stay)")
        out.append((f"Shared/private split, {name}: {what} (epoch {p.stem[-3:]})", p))
    out += [("Posterior and prior samples (UMAP)", fig / "umap_posterior_prior.png"),
            ("KL per latent dimension", fig / "kl_per_dimension.png")]
    return [(t, p) for t, p in out if p.is_file()]


WEAK_JUDGE = 0.95  # a judge below this test accuracy is flagged in the report
DOMINANT_SHARE = 0.5  # one class holding more than this share of the agreeing joint samples


def _classifier_lines(metrics: dict) -> list[str]:
    def name(c):
        kind = "shipped with mmvae" if c.get("shipped") else "trained here"
        return f"judge v{c['version']}, {kind}" if "version" in c else "judge"

    return [f"{src}: {100 * c['test_accuracy']:.2f}% test accuracy ({name(c)}; {c['path']})"
            + (" — WEAK judge (below 95%): its coherence numbers are unreliable" if c["test_accuracy"] < WEAK_JUDGE else "")
            for src, c in metrics.get("classifiers", {}).items()]


def report_warnings(metrics: dict) -> list[str]:
    """What a reader must know before trusting the numbers."""
    out = []
    for src, c in metrics.get("classifiers", {}).items():
        if c["test_accuracy"] < WEAK_JUDGE:
            out.append(f"The judge of '{src}' reaches only {100 * c['test_accuracy']:.1f}% test accuracy (below "
                       f"{100 * WEAK_JUDGE:.0f}%): coherence involving it is not reliable.")
    shares = metrics.get("joint_coherence", {}).get("digit_share_of_agreeing", [])
    if shares and max(shares) > DOMINANT_SHARE:
        top = max(range(len(shares)), key=shares.__getitem__)
        out.append(f"Joint coherence: class {top} holds {100 * shares[top]:.0f}% of the agreeing prior samples, so "
                   "the judges may agree on a degenerate generation (e.g. blank images); look at the generations.")
    if metrics.get("coherence_skipped"):
        out.append(metrics["coherence_skipped"])
    return out


def per_target_table(metrics: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of coherence given k observed modalities per target modality (M > 2)."""
    per = metrics.get("conditional_coherence", {}).get("per_target_given_k", {})
    if not per:
        return [], []
    targets = list(next(iter(per.values())))
    head = ["observed k"] + [f"→ {t}" for t in targets]
    return head, [[k] + [f"{100 * per[k][t]:.2f}%" for t in targets] for k in sorted(per, key=int)]


def render_markdown(run_dir: Path, metrics: dict) -> str:
    lines = [f"# Run report: {run_dir.name}", "",
             f"Model `{metrics.get('model')}`, objective `{metrics.get('objective')}`, dataset "
             f"`{metrics.get('dataset')}`, {metrics.get('epochs', '?')} epochs.", "",
             "| Metric | Value |", "|---|---|"]
    lines += [f"| {label} | {format_value(v, unit)} |" for label, v, unit in metric_rows(metrics)]
    head, rows = per_target_table(metrics)
    if rows:
        lines += ["", "**Coherence per target modality** (given k observed modalities, mean over the subsets):", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    warnings = report_warnings(metrics)
    if warnings:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in warnings]
    if metrics.get("classifiers"):
        lines += ["", "**Judges** (the classifiers behind the coherence metrics):", ""]
        lines += [f"- {line}" for line in _classifier_lines(metrics)]
    if metrics.get("protocol"):
        lines += ["", "**Protocol**", ""] + [f"- {k}: {v}" for k, v in metrics["protocol"].items()]
    for title, path in report_figures(run_dir):
        lines += ["", f"### {title}", "", f"![{title}]({path.relative_to(run_dir).as_posix()})"]
    return "\n".join(lines) + "\n"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def render_html(run_dir: Path, metrics: dict) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(label)}</td><td class='num'>{e(format_value(v, unit))}</td></tr>"
                   for label, v, unit in metric_rows(metrics))
    clfs = "".join(f"<li>{e(line)}</li>" for line in _classifier_lines(metrics))
    warn = "".join(f"<li>{e(w)}</li>" for w in report_warnings(metrics))
    head, trows = per_target_table(metrics)
    per_target = ("<h2>Coherence per target modality</h2><table id='per-target'><tr>"
                  + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
                  + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in trows)
                  + "</table>") if trows else ""
    proto = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in metrics.get("protocol", {}).items())
    figs = "".join(f"<figure><img src='{_data_uri(p)}' alt='{e(t)}'><figcaption>{e(t)}</figcaption></figure>"
                   for t, p in report_figures(run_dir))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mmvae report: {e(run_dir.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px}}td.num{{text-align:right}}
figure{{display:inline-block;margin:1em;vertical-align:top}}img{{max-width:520px}}</style></head>
<body><h1>Run report: {e(run_dir.name)}</h1>
<p>Model <code>{e(str(metrics.get('model')))}</code>, objective <code>{e(str(metrics.get('objective')))}</code>,
dataset <code>{e(str(metrics.get('dataset')))}</code>, {e(str(metrics.get('epochs', '?')))} epochs.</p>
<table id="metrics"><thead><tr><th>Metric</th><th>Value</th></tr></thead><tbody>{rows}</tbody></table>
{per_target}
{f'<h2>Warnings</h2><ul class="warnings">{warn}</ul>' if warn else ''}
{f'<h2>Judges (classifiers)</h2><ul>{clfs}</ul>' if clfs else ''}
{f'<h2>Protocol</h2><ul>{proto}</ul>' if proto else ''}
<h2>Figures</h2>{figs}
</body></html>
"""


def write_report(run_dir: str | Path, metrics: dict) -> list[Path]:
    """Writes metrics.json, report.md and report.html into ``run_dir``; returns their paths."""
    run_dir = Path(run_dir)
    files = {
        run_dir / "metrics.json": json.dumps(metrics, indent=1, default=float),
        run_dir / "report.md": render_markdown(run_dir, metrics),
        run_dir / "report.html": render_html(run_dir, metrics),
    }
    try:
        for path, text in files.items():
            atomic_write_text(path, text)
    except (OSError, OutputError) as e:
        raise OutputError(f"Could not write the report into {run_dir}: {e} The run's checkpoints are "
                          f"intact; make the folder writable and rerun `mmvae evaluate {run_dir}`.") from None
    return list(files)
