"""The HTTP service: a FastAPI app over loaded models, every prediction through a model's batching worker.

    GET  /health          {"status": "ok", "models": [...]}
    GET  /v1/models       each model's name, family, labels and a summary of its config
    POST /v1/predict      {"model": NAME, "texts": [...], options} -> {"model": NAME, "results": [record, ...]}
    POST /v1/render       {"model": NAME, "text": "..."} -> the SVG picture of the (labelled) tree
    GET  /                the browser page (static files in treeseq/serve/static, no outside network)
    GET  /openapi.json    the OpenAPI description (no /docs page: it would load scripts from outside)

Each record is exactly the one `--format jsonl` prints for that line (`result.to_dict()`), `{}` for a
blank text. Errors are one JSON object `{"error": "..."}`: 404 unknown model, 413 body too large, 422
bad request (an option the model does not take, a text over the model's max_length), 503 queue full.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from treeseq.errors import ConfigError, TreeseqError
from treeseq.serve.batching import ModelWorker, Overloaded

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
# The options each family's `predict` takes over HTTP (the commands' options of the same names).
FAMILY_OPTIONS: dict[str, tuple[str, ...]] = {
    "tree": ("brackets",), "parser": (), "tagger": ("tokenized",), "classifier": (), "lm": (),
    "translator": ("beam", "n_best", "alpha", "max_len_ratio", "attention"),
}  # fmt: skip
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """Limits of the service (the `treeseq serve` options of the same names)."""

    max_batch_tokens: int = 2048  # words merged into one predict call at most
    max_wait_ms: float = 5.0  # how long a request waits for others to join its batch
    max_queue: int = 256  # requests waiting per model; beyond it: 503
    max_body_bytes: int = 1 << 20  # request body; beyond it: 413
    max_texts: int = 256  # texts a request; beyond it: 422


class PredictRequest(BaseModel):
    """A batch of texts for one model, with that family's options (see FAMILY_OPTIONS)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: StrictStr = Field(description="A served model's name (GET /v1/models).")
    texts: list[StrictStr] = Field(description="Raw sentences, one result each, in order; a blank one gives {}.")
    beam: Optional[StrictInt] = Field(None, ge=1, le=64, description="translator: beam size (1: greedy); default 5")
    n_best: Optional[StrictInt] = Field(None, ge=1, le=64, description="translator: hypotheses per sentence (<= beam)")
    alpha: Optional[float] = Field(None, ge=0, le=10, description="translator: length penalty exponent")
    max_len_ratio: Optional[float] = Field(None, gt=0, le=10, description="translator: output budget ratio")
    attention: Optional[StrictBool] = Field(None, description="translator: include the attention matrices")
    tokenized: Optional[StrictBool] = Field(None, description="tagger: split on whitespace, not spaCy's tokenizer")
    brackets: Optional[StrictBool] = Field(None, description="tree: the texts are bracketed trees")


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: StrictStr
    text: StrictStr


class ServeError(TreeseqError):
    """An error answered with an HTTP status and `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def model_summary(name: str, model: Any) -> dict[str, Any]:
    """What GET /v1/models says about one model."""
    config = getattr(model, "config", None)
    summary: dict[str, Any] = {"name": name, "family": model.family, "labels": list(model.labels),
                               "max_length": getattr(model, "max_length", None) or None,
                               "options": list(FAMILY_OPTIONS.get(model.family, ()))}  # fmt: skip
    for extra in ("kind", "intents", "languages"):
        value = getattr(model, extra, None)
        if value is not None and not callable(value):
            summary[extra] = list(value) if isinstance(value, tuple) else value
    if dataclasses.is_dataclass(config):
        summary["config"] = {k: v for k, v in dataclasses.asdict(config).items() if isinstance(v, (str, int, float, bool, type(None)))}
    return summary


def family_options(model: Any, request: PredictRequest) -> dict[str, Any]:
    """The options given in the request, refused when this model's family does not take them."""
    given = {k: v for k, v in request.model_dump(exclude={"model", "texts"}).items() if v is not None}
    allowed = FAMILY_OPTIONS.get(model.family, ())
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no options"
        raise ServeError(422, f"a {model.family} model does not take {', '.join(unknown)} ({takes})")
    if model.family == "translator" and given.get("n_best", 1) > given.get("beam", 5):
        raise ServeError(422, f"beam size {given.get('beam', 5)} and n_best {given['n_best']}: need n_best <= beam")
    return given


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 before it is parsed, and every
    response gets the security headers (plain ASGI: Starlette's call_next middleware costs a task and
    a stream per request, which showed under many concurrent clients)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, plain_send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, plain_send)
            return

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {key.lower() for key, _ in headers}
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.lower().encode() not in present]
                message = {**message, "headers": headers}
            await plain_send(message)

        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        # Read the body (bounded) before the app does, then replay it: FastAPI would turn an error raised
        # while it reads into a 400.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                await self._refuse(send)
                return
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        response = JSONResponse({"error": f"request body over the limit of {self.limit:,} bytes"}, status_code=413)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> dict:
    return {"type": "http.disconnect"}


def create_app(models: Mapping[str, Any], settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving `models` (name -> a model loaded with `treeseq.load`).

    A worker thread per model starts with the app's lifespan (or the first request) and, on shutdown
    (uvicorn's graceful SIGTERM), answers what is queued before it stops.
    """
    settings = settings or ServeSettings()
    if not models:
        raise ConfigError("no models to serve: give at least one --model NAME=path.pt")
    workers: dict[str, ModelWorker] = {}

    def worker(name: str) -> ModelWorker:
        if name not in models:
            raise ServeError(404, f"unknown model {name!r}; serving: {', '.join(models)}")
        if name not in workers:
            workers[name] = ModelWorker(name, models[name], max_batch_tokens=settings.max_batch_tokens,
                                        max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue)  # fmt: skip
        return workers[name]

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name in models:
            worker(name)
        yield
        for running in list(workers.values()):
            await asyncio.to_thread(running.close)

    app = FastAPI(title="treeseq", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Predict with treeseq models over HTTP; records are those of `--format jsonl`.")  # fmt: skip
    app.state.workers = workers
    app.state.settings = settings

    async def run(name: str, texts: list[str], options: dict[str, Any]) -> list[Any]:
        future = worker(name).submit(texts, options)
        return await asyncio.wrap_future(future)

    @app.exception_handler(ServeError)
    async def _serve_error(_: Request, err: ServeError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(Overloaded)
    async def _overloaded(_: Request, err: Overloaded) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(TreeseqError)
    async def _bad_input(_: Request, err: TreeseqError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(err)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code, headers=getattr(err, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(_: Request, err: Exception) -> JSONResponse:
        logger.error("internal error: %s", err, exc_info=err)
        return JSONResponse({"error": f"internal error ({type(err).__name__}); see the server's log"}, status_code=500)

    @app.get("/health", summary="Liveness and the served models")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": list(models)}

    @app.get("/v1/models", summary="The served models: name, family, labels, config summary")
    async def list_models() -> dict[str, Any]:
        return {"models": [model_summary(name, model) for name, model in models.items()]}

    @app.post("/v1/predict", summary="Predict a batch of texts with one model; records as --format jsonl")
    async def predict(request: PredictRequest) -> JSONResponse:
        model = worker(request.model).model
        options = family_options(model, request)
        if len(request.texts) > settings.max_texts:
            raise ServeError(422, f"{len(request.texts)} texts: at most {settings.max_texts} a request")
        filled = [i for i, text in enumerate(request.texts) if text.strip()]
        records: list[dict[str, Any]] = [{} for _ in request.texts]
        if filled:
            try:
                results = await run(request.model, [request.texts[i] for i in filled], options)
            except Overloaded:
                raise
            except TreeseqError as err:  # name the request's own text: texts:N counts the request's texts from 1
                raise ServeError(422, _renumber(str(err), filled)) from None
            for index, result in zip(filled, results):
                records[index] = result.to_dict()
        return JSONResponse({"model": request.model, "results": records})  # plain JSON: no second encoding pass

    @app.post("/v1/render", summary="The SVG picture of a sentence's tree (tree classifiers and parsers)",
              response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})  # fmt: skip
    async def render(request: RenderRequest) -> Response:
        model = worker(request.model).model
        if model.family not in ("tree", "parser"):
            raise ServeError(422, f"a {model.family} model draws no tree; render takes tree classifiers and parsers")
        if not request.text.strip():
            raise ServeError(422, "no text to render")
        try:
            result = (await run(request.model, [request.text], {}))[0]
        except Overloaded:
            raise
        except TreeseqError as err:
            raise ServeError(422, str(err)) from None
        return Response(tree_svg(result), media_type="image/svg+xml")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)  # type: ignore[arg-type]
    return app


def tree_svg(result: Any) -> str:
    """The picture `classify --render` draws: a labelled tree's SVG, or a parse's with X on every node."""
    from treeseq.render_svg import layout_tree, to_svg  # noqa: PLC0415

    if hasattr(result, "by_node"):
        layout = layout_tree(result.tree, result.classes, *result.by_node())
    else:
        size = len(result.tree)
        layout = layout_tree(result.tree, ("X",), [0] * size, [1.0] * size)
    return to_svg(layout, " ".join(result.tree.tokens))


def _renumber(message: str, filled: list[int]) -> str:
    """`texts:N:` counts the non-blank texts sent to the model; say which of the request's texts it is."""
    import re  # noqa: PLC0415

    def swap(match: re.Match) -> str:
        number = int(match.group(1))
        return f"texts:{filled[number - 1] + 1}:" if 1 <= number <= len(filled) else match.group(0)

    return re.sub(r"^texts:(\d+):", swap, message)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for item in err.errors()[:3]:
        if item.get("type") == "json_invalid":
            return f"the body is not valid JSON ({item.get('ctx', {}).get('error', 'invalid')} at character {item['loc'][-1]})"
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


def _version() -> str:
    from treeseq.version import __version__  # noqa: PLC0415

    return __version__
