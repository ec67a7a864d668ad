"""Load the models named on the command line and run the app under uvicorn (graceful on SIGTERM)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from treeseq.errors import ConfigError

SWITCH_INTERVAL_S = 0.0005

logger = logging.getLogger(__name__)


def parse_model_specs(specs: Sequence[str]) -> dict[str, Path | list[Path]]:
    """`NAME=path.pt` (or a bare `path.pt`, named after its file) for each model, names unique;
    `NAME=a.pt,b.pt` serves the archives' ensemble under one name.

    Raises:
        ConfigError: no model, an empty name or path, or a name given twice.
    """
    out: dict[str, Path | list[Path]] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = Path(spec.split(",")[0]).stem, spec
        name = name.strip()
        paths = [Path(p.strip()) for p in path.split(",")]
        if not name or not all(str(p) not in ("", ".") for p in paths):
            raise ConfigError(f"--model {spec!r}: expected NAME=path.pt (or NAME=a.pt,b.pt for an ensemble)")
        if not all(c.isalnum() or c in "-_." for c in name):
            raise ConfigError(f"--model {spec!r}: a name takes letters, digits, '-', '_' and '.' only")
        if name in out:
            raise ConfigError(f"--model {spec!r}: the name {name!r} is given twice")
        out[name] = paths[0] if len(paths) == 1 else paths
    if not out:
        raise ConfigError("no models to serve: give at least one --model NAME=path.pt")
    return out


def load_models(paths: Mapping[str, str | Path | Sequence[str | Path]], device: str = "auto", precision: str = "fp32",
                max_length: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Each archive (or list of archives: their ensemble) loaded with `treeseq.load` (any family), under its name."""
    from treeseq.api import load  # noqa: PLC0415

    options = {"max_length": max_length} if max_length else {}
    return {name: load(path, device, precision, **options) for name, path in paths.items()}


def serve_models(models: Mapping[str, str | Path | Sequence[str | Path] | Any], settings: Any, *, processes: int = 1,
                 device: str = "auto", precision: str = "fp32", max_length: int | None = None,
                 threads: int | None = None) -> dict[str, Any]:  # fmt: skip
    """What `create_app` serves: each archive (or list of archives: their ensemble) in `processes`
    processes of its own (0: loaded in this process); loaded models stay in this process.

    Raises:
        ConfigError: an archive that cannot be loaded (every process started so far is stopped).
    """
    from treeseq.serve.app import Served  # noqa: PLC0415
    from treeseq.serve.process import ModelProcess  # noqa: PLC0415

    paths = {n: m for n, m in models.items() if isinstance(m, (str, Path, list, tuple))}
    if processes < 1:
        return {**dict(models), **load_models(paths, device, precision, max_length)}
    out: dict[str, Any] = dict(models)
    started: list[ModelProcess] = []
    try:
        for name, path in paths.items():
            runners = []
            for _ in range(processes):
                runners.append(ModelProcess(path, settings.limits, device=device, precision=precision, max_length=max_length,
                                            threads=threads))  # fmt: skip
                started.append(runners[-1])
            out[name] = Served(runners[0].summary, runners)
    except BaseException:
        for runner in started:
            runner.close()
        raise
    return out


def serve(models: Mapping[str, str | Path | Sequence[str | Path] | Any], host: str = "127.0.0.1", port: int = 8000, *, device: str = "auto",
          precision: str = "fp32", max_length: int | None = None, log_level: str = "info", processes: int = 1,
          threads: int | None = None, **settings: Any) -> None:  # fmt: skip
    """Serve the models (archive paths or loaded models, by name) until SIGINT/SIGTERM.

    Args:
        processes: processes per archive, each holding the model (0: the model in the server's process).
        threads: torch threads in each model process (None: torch's choice).
        settings: ServeSettings fields (max_batch_tokens, max_wait_ms, max_queue, max_queue_wait_ms,
            max_body_bytes, max_texts, max_cost, max_answer_bytes, body_timeout_s, header_timeout_s,
            keep_alive_s, max_connections).
    """
    uvicorn = _require()
    from treeseq.serve.app import ServeSettings, create_app  # noqa: PLC0415
    from treeseq.serve.protocol import guarded_protocol  # noqa: PLC0415

    limits = ServeSettings(**settings)
    loaded = serve_models(models, limits, processes=processes, device=device, precision=precision, max_length=max_length,
                          threads=threads)  # fmt: skip
    app = create_app(loaded, limits)
    logger.info("serving %s on http://%s:%d", ", ".join(f"{n} ({_family(m)})" for n, m in loaded.items()), host, port)
    # With a model in the server's process, the event loop and the model's worker share the interpreter
    # lock: at the default 5 ms switch interval every wake-up of the loop (a connection read, an answer
    # sent) can wait 5 ms behind the worker running Python code.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # uvicorn handles SIGINT and SIGTERM: it stops accepting, finishes the requests in flight, then the
    # app's lifespan answers whatever is still queued and stops the workers and model processes.
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30,
                            timeout_keep_alive=limits.keep_alive_s,
                            http=guarded_protocol(limits.header_timeout_s, limits.max_connections))  # fmt: skip
    uvicorn.Server(config).run()


def _family(model: Any) -> str:
    return model.summary["family"] if hasattr(model, "summary") else model.family


def _require() -> Any:
    try:
        import fastapi  # noqa: F401, PLC0415
        import uvicorn  # noqa: PLC0415
    except ImportError as err:
        raise ConfigError(f"serving needs the serve extra ({err.name} is missing): pip install 'treeseq[serve]'") from None
    return uvicorn
