"""The layout of docs/architecture.md, checked: imports point down the layers, no cycles, thin commands."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
# Top to bottom: a module may import from its own layer and the layers below it, never above.
LAYERS = ("cli", "serve", "spacy_components", "api", "recipes", "tasks", "training", "decoding", "models", "nn", "adapters", "corpora", "data",
          "core", "errors")  # fmt: skip
CLI_SHARED = {"treeseq.cli", "treeseq.cli.common", "treeseq.cli.training", "treeseq.cli.predicting", "treeseq.cli.helpstyle", "treeseq.cli.main"}


def module_files() -> dict[str, Path]:
    """Every module of the installed package, by import name (cli/ and corpora/ install under treeseq)."""
    out = {}
    for folder in ("treeseq", "cli", "corpora"):
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[0] != "treeseq":
                parts.insert(0, "treeseq")
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = module_files()


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of a module except those under `if TYPE_CHECKING:` (imports for annotations only)."""
    out, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def imported(name: str, path: Path) -> set[str]:
    """The treeseq modules a module imports when it runs (module level or inside functions)."""
    found = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
                for _ in range(node.level - 1):
                    package = package.rsplit(".", 1)[0]
                base = f"{package}.{base}" if base else package
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return {m for m in found if m in MODULES and m != name}


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "root"
    return parts[1] if parts[1] in LAYERS else "core"


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{name} ({layer(name)}) imports {target} ({layer(target)})"
        for name, targets in GRAPH.items()
        for target in targets
        if "root" not in (layer(name), layer(target)) and LAYERS.index(layer(target)) < LAYERS.index(layer(name))
    ]
    assert upward == []


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []
    for start in sorted(GRAPH):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(GRAPH[start])))]
        path = [start]
        state[start] = 1
        while stack:  # iterative depth-first search
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                cycles.append(path[path.index(child) :] + [child])
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(GRAPH[child]))))
    assert cycles == []


def test_no_command_module_imports_another() -> None:
    commands = {n for n in MODULES if layer(n) == "cli" and n not in CLI_SHARED}
    assert len(commands) >= 7
    assert {n: GRAPH[n] & commands for n in commands if GRAPH[n] & commands} == {}


def test_the_library_never_imports_the_cli() -> None:
    assert {n: t for n, targets in GRAPH.items() if layer(n) != "cli" for t in targets if layer(t) == "cli"} == {}


def test_installed_import_names_are_treeseq_only() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = set(setuptools["packages"])
    assert all(p == "treeseq" or p.startswith("treeseq.") for p in packages)
    assert packages == {n for n, p in MODULES.items() if p.name == "__init__.py"}  # none forgotten
    assert setuptools["package-dir"] == {"treeseq": "treeseq", "treeseq.cli": "cli", "treeseq.corpora": "corpora"}


def test_help_and_corpora_list_start_without_torch() -> None:
    code = ("import sys; from treeseq.cli.main import app; sys.argv = ['treeseq'] + sys.argv[1:]\n"
            "try:\n    app()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in ('torch', 'spacy', 'matplotlib') if m in sys.modules))")  # fmt: skip
    for argv in (["--help"], ["corpora", "list"], ["train", "tree", "--help"]):
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
        assert done.stdout.strip().splitlines()[-1] == "LOADED []", (argv, done.stdout[-300:], done.stderr[-300:])


def test_the_size_table_of_the_architecture_page_is_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("code_sizes", ROOT / "benchmarks" / "code_sizes.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    shown = page.partition(module.BEGIN + "\n")[2].partition(module.END)[0]
    assert shown == module.table(ROOT), "docs/architecture.md: the size table is stale; run python benchmarks/code_sizes.py --write"


def test_the_declared_names_are_the_registries() -> None:
    """The command line's choices come from treeseq/options.py (read without torch); they must be the
    registries' names, so a newcomer who registers a kind and forgets the declaration is told here."""
    from treeseq.models.tree import MODEL_KINDS
    from treeseq.nn.attention import ATTENTIONS
    from treeseq.nn.rnn import CELLS
    from treeseq.options import ATTENTION_KINDS, RECURRENT_CELLS, TREE_KINDS

    assert ATTENTION_KINDS == tuple(ATTENTIONS) and RECURRENT_CELLS == tuple(CELLS) and TREE_KINDS == MODEL_KINDS
