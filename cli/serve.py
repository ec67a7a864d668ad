"""`treeseq serve`: the models over HTTP (FastAPI + uvicorn) with dynamic batching and a browser page."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from treeseq.cli.common import (
    Device,
    MaxLength,
    Quiet,
    Threads,
    Verbose,
    cli_errors,
    quiet_logs,
    set_threads,
    setup_logging,
)


def serve(
    model: Annotated[list[str], typer.Option("--model", "-m", help="NAME=path.pt, repeatable (a bare path is named after its file); NAME=a.pt,b.pt serves their ensemble.", show_default=False)],
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    max_batch_tokens: Annotated[int, typer.Option("--max-batch-tokens", help="Words merged into one batch at most, per model.", min=1)] = 2048,
    max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", help="How long a request waits for others to join its batch.", min=0)] = 5.0,
    max_queue: Annotated[int, typer.Option("--max-queue", help="Requests waiting per model; beyond it the answer is 503.", min=1)] = 1024,
    max_queue_wait_ms: Annotated[float, typer.Option("--max-queue-wait-ms", help="Refuse a request (503 with Retry-After) when the model's queue would keep it waiting longer than this (0: never).", min=0)] = 300.0,
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes; beyond it the answer is 413.", min=1)] = 1 << 20,
    max_texts: Annotated[int, typer.Option("--max-texts", help="Texts a request at most; beyond it the answer is 422.", min=1)] = 256,
    max_cost: Annotated[int, typer.Option("--max-cost", help="A request's worst-case work at most (tokens; translators: beam x output budget x source subwords); beyond it the answer is 413.", min=1)] = 4_000_000,
    max_answer: Annotated[int, typer.Option("--max-answer", help="Largest answer in bytes; beyond it the answer is 413.", min=1)] = 8 << 20,
    body_timeout: Annotated[float, typer.Option("--body-timeout", help="Seconds a request body may take to arrive; beyond it the answer is 408.", min=0.1)] = 30.0,
    header_timeout: Annotated[float, typer.Option("--header-timeout", help="Seconds a request's headers may take to arrive; beyond it the connection is closed.", min=0.1)] = 10.0,
    keep_alive: Annotated[float, typer.Option("--keep-alive", help="Seconds an idle connection is kept open.", min=0.1)] = 5.0,
    max_connections: Annotated[int, typer.Option("--max-connections", help="Open connections at most; beyond it the answer is 503 and the connection is closed.", min=1)] = 1024,
    processes: Annotated[int, typer.Option("--processes", help="Processes per model, each holding a copy of it (0: the model runs in the server's process).", min=0)] = 1,
    max_length: MaxLength = None,
    precision: Annotated[Literal["fp32", "bf16"], typer.Option(help="fp32 or bf16.")] = "fp32",
    threads: Threads = None,
    device: Device = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Serve models over HTTP: POST /v1/predict, GET /v1/models, GET /health, /openapi.json, and a page at /.

    Requests from many clients are batched together per model. SIGINT or SIGTERM stops gracefully
    (requests in flight are answered). Needs the serve extra (fastapi and uvicorn).

    Example: treeseq serve --model sst=runs/sst.pt --model ewt=runs/ewt.pt --port 8000
    """
    with cli_errors(verbose):
        from treeseq.serve.server import parse_model_specs  # noqa: PLC0415
        from treeseq.serve.server import serve as run

        specs = parse_model_specs(model)
        setup_logging(verbose)
        quiet_logs(quiet)
        if not processes:  # else the model processes take --threads; the server's own process needs no torch
            set_threads(threads)
        run(specs, host, port, device=device, precision=precision, max_length=max_length,
            log_level="warning" if quiet else "info", processes=processes, threads=threads,
            max_batch_tokens=max_batch_tokens, max_wait_ms=max_wait_ms, max_queue=max_queue,
            max_queue_wait_ms=max_queue_wait_ms, max_body_bytes=max_body, max_texts=max_texts, max_cost=max_cost,
            max_answer_bytes=max_answer, body_timeout_s=body_timeout, header_timeout_s=header_timeout,
            keep_alive_s=keep_alive, max_connections=max_connections)  # fmt: skip
