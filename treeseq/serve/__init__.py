"""Serving treeseq models over HTTP (FastAPI + uvicorn), with dynamic batching, and a browser page.

    from treeseq.serve import create_app, load_models, serve
    app = create_app(load_models({"sst": "runs/sst.pt"}))     # an ASGI app (tests, your own server)
    serve({"sst": "runs/sst.pt"}, host="127.0.0.1", port=8000)  # what `treeseq serve` runs

Needs the `serve` extra (`pip install "treeseq[serve]"`: fastapi and uvicorn).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServeSettings", "create_app", "load_models", "parse_model_specs", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "ServeSettings"):
        from treeseq.serve import app  # noqa: PLC0415 (fastapi loads on first use)

        return getattr(app, name)
    if name in ("load_models", "parse_model_specs", "serve"):
        from treeseq.serve import server  # noqa: PLC0415

        return getattr(server, name)
    raise AttributeError(f"module 'treeseq.serve' has no attribute {name!r}")
