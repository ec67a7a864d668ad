"""Sizes of the code: the largest functions and files of treeseq/, cli/ and corpora/, as JSON lines.

    python benchmarks/code_sizes.py                        # this checkout
    git worktree add /tmp/before 62de7e3 && python benchmarks/code_sizes.py --root /tmp/before

A function's size is its lines from `def` to its last line, docstring and signature included.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sizes(root: Path) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(function sizes, file sizes), largest first."""
    functions, files = [], []
    for folder in ("treeseq", "cli", "corpora"):
        for path in sorted((root / folder).rglob("*.py")):
            text, name = path.read_text(encoding="utf-8"), str(path.relative_to(root))
            files.append((len(text.splitlines()), name))
            stack: list[tuple[ast.AST, str]] = [(ast.parse(text), "")]
            while stack:
                node, prefix = stack.pop()
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        functions.append((child.end_lineno - child.lineno + 1, f"{name}:{prefix}{child.name}"))  # type: ignore[operator]
                        stack.append((child, f"{prefix}{child.name}."))
                    elif isinstance(child, ast.ClassDef):
                        stack.append((child, f"{prefix}{child.name}."))
    return sorted(functions, reverse=True), sorted(files, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="A checkout of the project.")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    functions, files = sizes(args.root)
    for lines, name in functions[: args.top]:
        print(json.dumps({"bench": "code_sizes", "kind": "function", "name": name, "lines": lines}))
    for lines, name in files[: args.top]:
        print(json.dumps({"bench": "code_sizes", "kind": "file", "name": name, "lines": lines}))
    print(json.dumps({"bench": "code_sizes", "kind": "summary", "lines": sum(n for n, _ in files), "files": len(files),
                      "functions": len(functions), "functions_over_60": sum(n > 60 for n, _ in functions)}))  # fmt: skip


if __name__ == "__main__":
    main()
