"""Sampling from a language model: temperature, top-k and nucleus (top-p) filtering, greedy at
temperature 0, reproducible with a seeded generator; and the loop that continues a prompt."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch import Tensor

from treeseq.errors import ConfigError
from treeseq.models.lm import RNNLanguageModel, select_rows
from treeseq.options import FAMILIES


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: temperature 0 is greedy; top_k 0 and top_p 1 filter nothing."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        # the language models' declaration (treeseq.options) bounds them, for every surface
        FAMILIES["lm"].check("generate", {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p})


def filtered_logits(logits: Tensor, sampling: Sampling) -> Tensor:
    """Logits (N, C) divided by the temperature, with the classes outside the top k (exactly k, ties
    broken by torch.topk) and outside the smallest set whose probability reaches top_p set to -inf
    (the most likely class always stays)."""
    logits = logits.float() / max(sampling.temperature, 1e-12)
    if sampling.top_k and sampling.top_k < logits.shape[-1]:
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, logits.topk(sampling.top_k, dim=-1).indices, True)
        logits = logits.masked_fill(~keep, float("-inf"))  # exactly k kept, ties included
    if sampling.top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(-1)
        above = probs.cumsum(-1) - probs  # the probability of the classes ranked above each one
        drop = torch.zeros_like(above, dtype=torch.bool).scatter(-1, order, above >= sampling.top_p)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def next_classes(logits: Tensor, sampling: Sampling, generator: torch.Generator | None = None) -> Tensor:
    """One class per row of logits (N, C): the argmax at temperature 0, else a draw after filtering."""
    if sampling.temperature == 0:
        return logits.argmax(dim=-1)
    probs = filtered_logits(logits, sampling).softmax(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@dataclass
class Continuation:
    """The ids a sample produced after the prompt (without the final <eos>), their log-probabilities
    under the model's unfiltered distribution, and whether it ended with <eos>."""

    ids: list[int]
    logprobs: list[float]
    ended: bool


@torch.no_grad()
def sample_steps(model: RNNLanguageModel, prompt: Sequence[int], samples: int, max_tokens: int, eos_id: int,
                 sampling: Sampling, generator: torch.Generator | None = None) -> Iterator[list[Continuation]]:  # fmt: skip
    """Continue a prompt (token ids, starting with the line-start <eos>) one step at a time: after each
    step, the `samples` continuations so far (the same list, growing), until every one has ended with
    <eos> or holds `max_tokens` ids; all samples run as one batch."""
    if not prompt:
        raise ConfigError("a prompt starts with at least the line-start token")
    device = next(model.parameters()).device
    logits, state = model(torch.tensor([list(prompt)], device=device))
    state = select_rows(state, torch.zeros(samples, dtype=torch.long, device=device))
    last = logits[:, -1].expand(samples, -1)
    out = [Continuation([], [], False) for _ in range(samples)]
    alive = torch.ones(samples, dtype=torch.bool, device=device)
    for _ in range(max_tokens):
        classes = next_classes(last, sampling, generator)
        logprobs = last.float().log_softmax(-1).gather(1, classes.unsqueeze(1)).squeeze(1)
        ids = classes + 1
        for row, (token, logprob, live) in enumerate(zip(ids.tolist(), logprobs.tolist(), alive.tolist())):
            if not live:
                continue
            out[row].logprobs.append(logprob)
            if token == eos_id:
                out[row].ended = True
            else:
                out[row].ids.append(token)
        alive &= ids != eos_id
        yield out
        if not bool(alive.any()):
            return
        last, state = model.step(ids, state)


def continue_prompt(model: RNNLanguageModel, prompt: Sequence[int], samples: int, max_tokens: int, eos_id: int,
                    sampling: Sampling, generator: torch.Generator | None = None) -> list[Continuation]:  # fmt: skip
    """`samples` continuations of a prompt (token ids, starting with the line-start <eos>), each up to
    `max_tokens` ids or its <eos>; all samples run as one batch (`sample_steps` to the end)."""
    steps = sample_steps(model, prompt, samples, max_tokens, eos_id, sampling, generator)
    last = collections.deque(steps, maxlen=1)  # the last step's continuations
    return last[0] if last else []
