"""The HTTP service: a FastAPI app over served models, every prediction through a model's batching worker.

    GET  /health          {"status": "ok", "models": [...]}
    GET  /v1/models       each model's name, family, labels and a summary of its config; the service's limits
    POST /v1/predict      {"model": NAME, "texts": [...], options} -> {"model": NAME, "results": [record, ...]}
    POST /v1/render       {"model": NAME, "text": "..."} -> the SVG picture of the (labelled) tree
    POST /v1/generate     {"model": NAME, "prompt": "...", options} -> {"model": NAME, "results": [sample, ...]}
    GET  /                the browser page (static files in treeseq/serve/static, no outside network)
    GET  /openapi.json    the OpenAPI description (no /docs page: it would load scripts from outside)

Each record is exactly the one `--format jsonl` prints for that line (`result.to_dict()`), `{}` for a
blank text; each sample exactly the one `treeseq generate --format jsonl` prints. Errors are one JSON
object `{"error": "..."}` that says where: 404 unknown model or path, 408 a body that does not arrive
in time, 413 a body, a request's cost or an answer over its limit, 422 a body that is not UTF-8 JSON of
the expected shape or a text that is not valid Unicode or too long (with the position), 503 the
model's queue is full or its wait would pass the deadline (with Retry-After). No input reaches a 500,
and an error never closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, AsyncIterator, Mapping, Optional

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from treeseq.errors import ConfigError, TreeseqError
from treeseq.files import JSONProblem, parse_json
from treeseq.options import FAMILIES, Option, Stage
from treeseq.serve.batching import InProcess, Limits, ModelWorker, Outcome, Overloaded, Runner
from treeseq.serve.guard import Guard, error_response
from treeseq.serve.summary import model_summary
from treeseq.text import BLANK_PATTERN, is_blank, unicode_problem

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


@dataclasses.dataclass(frozen=True)
class ServeSettings:
    """Limits of the service (the `treeseq serve` options of the same names); docs/serving.md says what a
    client gets at each."""

    max_batch_tokens: int = 2048  # words merged into one predict call at most
    max_wait_ms: float = 5.0  # how long a request waits for others to join its batch
    max_queue: int = 1024  # requests waiting per model; beyond it: 503
    max_queue_wait_ms: float = 300.0  # the queue's expected wait; beyond it: 503 with Retry-After (0: none)
    max_body_bytes: int = 1 << 20  # request body; beyond it: 413
    max_texts: int = 256  # texts a request; beyond it: 422
    max_cost: int = 4_000_000  # a request's worst-case work (model.cost); beyond it: 413
    max_answer_bytes: int = 8 << 20  # an answer's records; beyond it: 413
    body_timeout_s: float = 30.0  # a body must arrive within this after its headers; else 408
    header_timeout_s: float = 10.0  # a request's headers must arrive within this; else the connection is closed
    keep_alive_s: float = 5.0  # an idle kept-alive connection is closed after this
    max_connections: int = 1024  # open connections; beyond it: 503 and closed

    @property
    def limits(self) -> Limits:
        return Limits(self.max_cost, self.max_answer_bytes)


@dataclasses.dataclass
class Served:
    """A model as the app serves it: what GET /v1/models says (model_summary) and where its batches run."""

    summary: dict[str, Any]
    runners: list[Runner]


JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


def _option_field(family: str, option: Option, default: bool = False) -> tuple[Any, Any]:
    """A request field for a declared option: its type and bounds in the schema, its value checked by the
    family's declaration (treeseq.options), so HTTP refuses what the other surfaces refuse, in the same words.
    `default`: the schema gives the declared default (the page fills its inputs with it)."""
    schema: dict[str, Any] = {"type": JSON_TYPES[option.kind]}
    if default and option.default is not None:
        schema["default"] = option.default
    for key, value in (("minimum", option.low), ("maximum", option.high), ("exclusiveMinimum", option.above)):
        if value is not None:
            schema[key] = value
    default = "" if option.default is None else f"; default {json.dumps(option.default)}"
    return Optional[Any], Field(None, description=f"{family}: {option.help.rstrip('.')}{default}", json_schema_extra=schema)


def _predict_request() -> type[BaseModel]:
    """The body of POST /v1/predict: a model, its texts, and the options its family declares for HTTP."""
    fields: dict[str, Any] = {
        "model": (StrictStr, Field(description="A served model's name (GET /v1/models).")),
        "texts": (list[StrictStr], Field(description="Raw sentences, one result each, in order; a blank one gives {}.")),
    }
    for name, declared in FAMILIES.items():
        for option in declared.of("predict", "http"):
            fields.setdefault(option.name, _option_field(name, option))
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid", protected_namespaces=()), **fields)


PredictRequest = _predict_request()


def _generate_request() -> type[BaseModel]:
    """The body of POST /v1/generate: a language model and the options the lm family declares for generating."""
    fields: dict[str, Any] = {"model": (StrictStr, Field(description="A served language model's name (GET /v1/models)."))}
    for option in FAMILIES["lm"].of("generate", "http"):
        fields[option.name] = _option_field("lm", option, default=True)
    return create_model("GenerateRequest", __config__=ConfigDict(extra="forbid", protected_namespaces=()), **fields)


GenerateRequest = _generate_request()


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: StrictStr
    text: StrictStr


class ServeError(TreeseqError):
    """An error answered with an HTTP status and `{"error": message}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers


def family_options(summary: dict[str, Any], request: BaseModel, stage: Stage = "predict") -> dict[str, Any]:
    """The options given in the request, checked by the model's family's declaration (treeseq.options):
    one it does not take, a value out of bounds or options that do not go together are 422, with the
    sentence every surface gives. Returns the given options (predict), or all of them with the
    declared defaults filled in (generate)."""
    given = {k: v for k, v in request.model_dump(exclude={"model", "texts"}).items() if v is not None}
    try:
        filled = FAMILIES[summary["family"]].check(stage, given)
    except ConfigError as err:
        raise ServeError(422, str(err)) from None
    return given if stage == "predict" else filled


def read_body(body: bytes, schema: type[BaseModel]) -> Any:
    """A request body as `schema`: UTF-8, JSON within the parser's bounds, every string valid Unicode,
    the shape `schema` says. Raises ServeError 422 naming where the problem is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ServeError(422, f"the body is not UTF-8: byte 0x{body[err.start]:02x} at byte {err.start + 1}") from None
    try:
        value = parse_json(text)
    except JSONProblem as err:
        raise ServeError(422, f"the body is not valid JSON ({err.message} at character {err.position + 1})") from None
    _check_strings(value, "")
    try:
        return schema.model_validate(value)
    except ValidationError as err:
        raise ServeError(422, _validation_message(err)) from None


def _check_strings(value: Any, where: str) -> None:
    """Every string of a parsed body (keys too) valid Unicode; `texts:3:5: ...` counts texts from 1."""
    if isinstance(value, str):
        problem = unicode_problem(value)
        if problem is not None:
            raise ServeError(422, f"{where or 'body'}:{problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, "key")
            _check_strings(item, str(key) if not where else f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value, start=1):
            _check_strings(item, f"{where}:{index}" if where else str(index))


def create_app(models: Mapping[str, Any], settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving `models`: name -> a model loaded with `treeseq.load` (run in this
    process), or a Served (e.g. models in processes of their own, see treeseq.serve.server).

    The workers start with the app's lifespan (or the first request) and, on shutdown (uvicorn's
    graceful SIGTERM), answer what is queued before they stop.
    """
    settings = settings or ServeSettings()
    if not models:
        raise ConfigError("no models to serve: give at least one --model NAME=path.pt")
    served = {name: m if isinstance(m, Served) else Served(model_summary(m), [InProcess(m, settings.limits)])
              for name, m in models.items()}  # fmt: skip
    workers: dict[str, ModelWorker] = {}

    def entry_for(name: str) -> Served:
        if name not in served:
            raise ServeError(404, f"unknown model {name!r}; serving: {', '.join(served)}")
        return served[name]

    def worker(name: str) -> ModelWorker:
        entry_for(name)
        if name not in workers:
            workers[name] = ModelWorker(name, served[name].runners, max_batch_tokens=settings.max_batch_tokens,
                                        max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue,
                                        max_queue_wait_ms=settings.max_queue_wait_ms)  # fmt: skip
        return workers[name]

    lag = LoopLag()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name in served:
            worker(name)
        watching = asyncio.create_task(lag.watch())
        yield
        watching.cancel()
        for running in list(workers.values()):
            await asyncio.to_thread(running.close)

    app = FastAPI(title="treeseq", version=_version(), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Predict with treeseq models over HTTP; records are those of `--format jsonl`.")  # fmt: skip
    app.state.workers = workers
    app.state.settings = settings

    async def run(name: str, texts: list[str], numbers: list[int], options: dict[str, Any], work: int = 0) -> Outcome:
        try:
            future = worker(name).submit(texts, options, numbers, lag=lag.seconds, work=work)
        except Overloaded as err:
            raise ServeError(503, str(err), {"Retry-After": str(err.retry_after)}) from None
        outcome: Outcome = await asyncio.wrap_future(future)
        if outcome.status != 200:
            raise ServeError(outcome.status, outcome.error, {"Retry-After": "1"} if outcome.status == 503 else None)
        return outcome

    @app.exception_handler(ServeError)
    async def _serve_error(_: Request, err: ServeError) -> Response:
        return error_response(err.status, str(err), err.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, err: StarletteHTTPException) -> Response:
        return error_response(err.status_code, str(err.detail), getattr(err, "headers", None))

    @app.get("/health", summary="Liveness and the served models")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": list(served)}

    @app.get("/v1/models", summary="The served models (name, family, labels, config summary) and the service's limits")
    async def list_models() -> dict[str, Any]:
        limits = {k: getattr(settings, k) for k in ("max_texts", "max_body_bytes", "max_cost", "max_answer_bytes",
                                                    "max_queue_wait_ms", "body_timeout_s", "header_timeout_s")}  # fmt: skip
        return {"models": [{"name": name, **entry.summary} for name, entry in served.items()], "limits": limits,
                "blank": BLANK_PATTERN}  # fmt: skip

    @app.post("/v1/predict", summary="Predict a batch of texts with one model; records as --format jsonl",
              openapi_extra=_body_schema(PredictRequest))  # fmt: skip
    async def predict(request: Request) -> Response:
        asked = read_body(await request.body(), PredictRequest)
        options = family_options(entry_for(asked.model).summary, asked)
        if len(asked.texts) > settings.max_texts:
            raise ServeError(422, f"{len(asked.texts)} texts: at most {settings.max_texts} a request")
        filled = [i for i, text in enumerate(asked.texts) if not is_blank(text)]
        records = [b"{}"] * len(asked.texts)
        if filled:
            outcome = await run(asked.model, [asked.texts[i] for i in filled], [i + 1 for i in filled], options)
            for index, record in zip(filled, outcome.records):
                records[index] = record
        body = b'{"model": ' + json.dumps(asked.model).encode() + b', "results": [' + b", ".join(records) + b"]}"
        return Response(body, media_type="application/json")

    @app.post("/v1/render", summary="The SVG picture of a sentence's tree (tree classifiers and parsers)",
              response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}},
              openapi_extra=_body_schema(RenderRequest))  # fmt: skip
    async def render(request: Request) -> Response:
        asked: RenderRequest = read_body(await request.body(), RenderRequest)
        family = entry_for(asked.model).summary["family"]
        if family not in ("tree", "parser"):
            raise ServeError(422, f"a {family} model draws no tree; render takes tree classifiers and parsers")
        if is_blank(asked.text):
            raise ServeError(422, "no text to render")
        outcome = await run(asked.model, [asked.text], [1], {"svg": True})
        return Response(outcome.records[0], media_type="image/svg+xml")

    @app.post("/v1/generate", summary="Sample continuations of a prompt with a language model; records as generate --format jsonl",
              openapi_extra=_body_schema(GenerateRequest))  # fmt: skip
    async def generate(request: Request) -> Response:
        asked = read_body(await request.body(), GenerateRequest)
        summary = entry_for(asked.model).summary
        if summary["family"] != "lm":
            raise ServeError(422, f"a {summary['family']} model does not generate text; generate takes language models (lm)")
        options = family_options(summary, asked, "generate")
        prompt = options.pop("prompt")
        work = options["samples"] * options["max_tokens"] + len(prompt.split())  # admission's estimate, in words
        outcome = await run(asked.model, [prompt], [1], {"generate": True, **options}, work=work)
        body = b'{"model": ' + json.dumps(asked.model).encode() + b', "results": [' + b", ".join(outcome.records) + b"]}"
        return Response(body, media_type="application/json")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, limit=settings.max_body_bytes, timeout=settings.body_timeout_s)  # type: ignore[arg-type]
    return app


class LoopLag:
    """How late the event loop runs its callbacks: a request also waits that long before and after the
    model, so admission counts it against the deadline (on a starved CPU the loop, not the model's
    queue, is where requests wait)."""

    TICK = 0.02

    def __init__(self) -> None:
        self.seconds = 0.0

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.TICK)
            late = max(0.0, loop.time() - start - self.TICK)
            self.seconds = 0.9 * self.seconds + 0.1 * late  # smoothed: a lone hiccup sheds nothing


def _body_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its body itself (to say where a problem is)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


def _validation_message(err: ValidationError) -> str:
    parts = []
    for item in err.errors()[:3]:
        where = ":".join(str(p + 1) if isinstance(p, int) else str(p) for p in item.get("loc", ())) or "body"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


def _version() -> str:
    from treeseq.version import __version__  # noqa: PLC0415

    return __version__
