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
    ("foundation", {"mmvae", "mmvae.errors", "mmvae.registry", "mmvae.utils", "mmvae.typed", "mmvae.progress",
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
    tree = ast.parse(path.read_text())
    facade = {id(n) for n in ast.walk(_facade(tree))} if path == PACKAGE / "__init__.py" else set()
    for node in ast.walk(tree):
        if id(node) in facade:
            continue
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


def _facade(tree: ast.Module) -> ast.AST:
    """The package root's ``__getattr__`` (PEP 562): the one sanctioned upward edge. It resolves
    ``mmvae.save_pretrained``/``from_pretrained`` from the pipeline on first use, after every
    module is imported, so it neither loads a layer early nor closes a cycle at import time."""
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"]
    return found[0] if found else ast.Module(body=[], type_ignores=[])


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
            if re.search(r"\.experts\[", line) and path.parent.name != "models":  # a model's own parts
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
        if re.search(r"class \w*View\b", text):
            offenders.append(f"{path.relative_to(PACKAGE)}: a view class")
    assert not offenders, "\n".join(offenders)


def test_the_package_root_facade_reaches_the_pipeline_only():
    """``mmvae.from_pretrained`` and ``mmvae.save_pretrained`` resolve lazily to the pipeline's,
    and the root's ``__getattr__`` imports nothing else."""
    import mmvae
    from mmvae.pipeline import pretrained

    assert mmvae.from_pretrained is pretrained.from_pretrained and mmvae.save_pretrained is pretrained.save_pretrained
    assert set(mmvae.FACADE) <= set(dir(mmvae))
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    targets = {n.module for n in ast.walk(_facade(tree)) if isinstance(n, ast.ImportFrom)}
    assert targets <= {"pipeline"}, targets
    with pytest.raises(AttributeError):
        mmvae.no_such_thing  # noqa: B018
