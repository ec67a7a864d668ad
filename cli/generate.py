"""`treeseq generate`: continue a prompt with a language model (sampling or greedy, reproducible with --seed)."""

from __future__ import annotations

import json
from typing import Annotated, Literal, Optional

import typer

from treeseq.cli.common import Device, ModelFile, OutputFile, PredictPrecision, Quiet, Threads, Verbose, cli_errors, output_file, quiet_logs, set_threads
from treeseq.errors import ConfigError


def generate(
    model: ModelFile,
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="Text to continue (default: start a new line).")] = "",
    samples: Annotated[int, typer.Option("--samples", "-n", help="How many samples.", min=1)] = 1,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Most units generated per sample, at most 10,000 (it stops earlier at the end of a line). With one sample in text format the text is written as it is generated.", min=1)] = 50,
    temperature: Annotated[float, typer.Option(help="Softmax temperature; 0 is greedy.", min=0.0)] = 1.0,
    top_k: Annotated[int, typer.Option("--top-k", help="Sample among the K most likely units only (0: all).", min=0)] = 0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling: the smallest set of units whose probability reaches P (1: all).", min=0.0, max=1.0)] = 1.0,
    seed: Annotated[Optional[int], typer.Option(help="Random seed: the same seed gives the same samples (default: a fresh one).")] = None,
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (one sample a line: the prompt and its continuation) or jsonl.")] = "text",
    output: OutputFile = None,
    precision: PredictPrecision = "fp32",
    threads: Threads = None,
    device: Device = "auto",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Generate text with a language model: sample continuations of --prompt, one a line.

    Example: treeseq generate -m runs/lm.pt --prompt "A man in a blue shirt" --samples 3 --top-p 0.9 --seed 1
    """
    with cli_errors(verbose):
        if format not in ("text", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text or jsonl")
        if not 0.0 < top_p <= 1.0:
            raise ConfigError(f"--top-p {top_p}: expected a value in (0, 1]")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        set_threads(threads)
        quiet_logs(quiet)
        lm = load(model, device, precision, family="lm")
        with output_file(output) as out:
            stream = format == "text" and samples == 1
            unwritten = [prompt]  # the prompt goes out with the first piece, once the model has accepted it

            def write(text: str) -> None:
                out.write(one_line("".join(unwritten) + text))
                out.flush()
                unwritten.clear()

            found = lm.generate(prompt, samples=samples, max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                                top_p=top_p, seed=seed, on_text=write if stream else None)  # fmt: skip
            for sample in found:
                if format == "jsonl":
                    out.write(json.dumps(sample.to_dict(), ensure_ascii=False) + "\n")
                elif stream:
                    out.write(one_line("".join(unwritten)) + "\n")
                else:
                    out.write(one_line(sample.text) + "\n")


def one_line(text: str) -> str:
    """A generated line break must not split the output line: each becomes a space."""
    return text.translate(LINE_BREAKS)


LINE_BREAKS = dict.fromkeys(map(ord, "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), " ")
