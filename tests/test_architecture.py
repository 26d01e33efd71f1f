"""The package's import contract: layers import downwards only, and no module imports itself
back through others (no cycles), counting imports inside functions too. The order is the one
``docs/architecture.md`` draws."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmvae"

# lowest first; a module may import its own layer and the layers below it
LAYERS = [
    ("foundation", {"mmvae", "mmvae.errors", "mmvae.registry", "mmvae.utils", "mmvae.progress",
                    "mmvae.allocator", "mmvae.distributions", "mmvae.viz"}),
    ("data", {"mmvae.data"}),
    ("nets", {"mmvae.nets"}),
    ("models", {"mmvae.models"}),
    ("objectives", {"mmvae.objectives"}),
    ("config", {"mmvae.config", "mmvae.configs"}),
    ("training", {"mmvae.training"}),
    ("evaluation", {"mmvae.evaluation"}),
    ("report", {"mmvae.report"}),
    ("pipeline", {"mmvae.pipeline"}),
    ("experiments", {"mmvae.experiments"}),
    ("cli", {"mmvae.cli", "mmvae.__main__"}),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len and (p != "mmvae" or module == p):
                best, best_len = i, len(p)
    if best is None:
        raise AssertionError(f"module {module} is in no layer; add it to LAYERS and docs/architecture.md")
    return best


def imports_of(path: Path) -> set[str]:
    """Absolute names of the package modules that ``path`` imports, anywhere in the file."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "mmvae"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "mmvae":
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                out.add(sub if _is_module(sub) else target)
    return {m for m in out if m != me}


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def test_layers_import_downwards_only():
    upward = []
    for module, targets in graph().items():
        for target in targets:
            if layer_of(target) > layer_of(module):
                upward.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                              f"({LAYERS[layer_of(target)][0]})")
    assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                cycles.append(" → ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_contract_catches_an_upward_import(tmp_path):
    """The check itself works: an import of the pipeline from a model is reported."""
    assert layer_of("mmvae.pipeline.train") > layer_of("mmvae.models.mmvae")
    assert layer_of("mmvae.utils") < layer_of("mmvae.data.paired")
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("mmvae.newlayer.thing")


def test_no_hasattr_probes_on_models_and_no_module_imitating_views():
    """Training, evaluation, reports and the CLI use models through the contract only."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"\b(hasattr|getattr)\(\s*(self\.)?(model|inner|gen_model|self)\b", line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
            if re.search(r"\.experts\[", line) and path.name not in ("mmvae.py", "factorised.py"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
        if re.search(r"class \w*View\b", text):
            offenders.append(f"{path.relative_to(PACKAGE)}: a view class")
    assert not offenders, "\n".join(offenders)
