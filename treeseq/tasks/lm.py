"""Language modelling: one token stream, B parallel rows, truncated BPTT with the state carried across
segments and cut between them; perplexity measured over a split read as one stream.

Dev perplexity is measured the way training sees text: the split as one stream (`data.eval_streams`
rows, 1 by default), in segments of `data.eval_bptt` steps with the state carried, every token and
every <eos> predicted. Scoring single lines (`LMInference.score`) starts each line from a fresh state
after a line-start <eos>, the context every line of the training stream also has.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from treeseq.checkpoint import make_archive
from treeseq.config import FAMILY_TRAIN_DEFAULTS, TrainConfig, choice
from treeseq.data.lm import (
    UNITS,
    Segment,
    StreamBatch,
    Units,
    batchify,
    collate_segments,
    segments,
    to_classes,
    token_stream,
)
from treeseq.device import autocast, check_inference_precision, epoch_rng
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.files import read_lines
from treeseq.models.lm import RNNLanguageModel, State, detach_state
from treeseq.nn.rnn import RNNS

TASK = "lm"
TRAIN_DEFAULTS = FAMILY_TRAIN_DEFAULTS["lm"]
# What `train lm` builds unless told otherwise (a two-level softmax, output biases starting at the
# unigram distribution); an archive without the setting keeps LMModelConfig's own default (one
# softmax; the biases' start only matters before training), so older archives load as they were trained.
MODEL_TRAIN_DEFAULTS = {"head": 2000, "unigram_bias": True}


@dataclass(frozen=True)
class LMModelConfig:
    """The language model's units and architecture (stored in the archive)."""

    unit: str = "word"  # word, char or subword
    rnn: str = "lstm"
    embed_dim: int = 256
    hidden_size: int = 256
    layers: int = 2
    dropout: float = 0.3  # locked: embeddings, between layers, output
    tie: bool = True  # input and output embeddings shared
    forget_bias: float = 1.0  # lstm: the forget gates' initial bias
    vocab_size: int = 10000  # word: the most frequent words kept (others are <unk>); subword: SentencePiece size
    min_count: int = 1  # word: rarer words are <unk>
    lowercase: bool = False  # word: lowercase the vocabulary
    tokenized: bool = False  # word: lines are already tokenized (split on whitespace), not raw text
    head: int = 0  # 0: one softmax; else a two-level softmax whose first level holds the `head` most frequent classes
    weight_drop: float = 0.0  # DropConnect on the recurrent matrices (one mask per segment)
    embed_dropout: float = 0.0  # drop whole words from the input embeddings (one mask over the vocabulary per segment)
    activation_reg: float = 0.0  # AR: times the mean square of the top layer's dropped-out outputs, added to each token's loss
    temporal_reg: float = 0.0  # TAR: times the mean square of the top layer's step-to-step change
    unigram_bias: bool = False  # start the output biases at the training text's log unigram distribution

    def __post_init__(self) -> None:
        choice(self, "unit", UNITS)
        choice(self, "rnn", RNNS)
        for name in ("dropout", "weight_drop", "embed_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"model.{name} must be in [0, 1), got {getattr(self, name)}")
        if min(self.embed_dim, self.hidden_size, self.layers, self.vocab_size, self.min_count) < 1:
            raise ConfigError("model sizes, layers, vocab_size and min_count must be >= 1")
        if min(self.activation_reg, self.temporal_reg) < 0:
            raise ConfigError("model.activation_reg and model.temporal_reg must be >= 0")
        if self.head < 0:
            raise ConfigError(f"model.head must be >= 0 (0: one softmax), got {self.head}")


@dataclass(frozen=True)
class LMDataConfig:
    """Truncated BPTT and dev measurement (stored in the archive)."""

    bptt: int = 35  # steps per training segment
    vary_bptt: bool = True  # vary segment lengths randomly around bptt (Merity et al. 2018)
    eval_bptt: int = 100  # steps per segment when measuring dev (the state is carried; only speed changes)
    eval_streams: int = 1  # rows the dev stream is cut into (1: exactly one stream)
    shuffle_lines: bool = False  # each epoch's training stream has the lines in a new order (independent sentences)

    def __post_init__(self) -> None:
        if min(self.bptt, self.eval_bptt, self.eval_streams) < 1:
            raise ConfigError("data.bptt, data.eval_bptt and data.eval_streams must be >= 1")


def find_split(data_dir: Path, split: str) -> Path:
    """`split.txt` or `split.txt.gz` in a corpus folder, or the file named `split` itself (e.g. val.en).

    Raises:
        CorpusFormatError: no such file.
    """
    for name in (f"{split}.txt", f"{split}.txt.gz", split):
        if (data_dir / name).is_file():
            return data_dir / name
    raise CorpusFormatError(f"{data_dir}: no {split}.txt or {split}.txt.gz (one sentence or paragraph a line)")


def read_text(path: Path) -> list[str]:
    """The lines of a text file (plain or gzip); blank lines are dropped.

    Raises:
        CorpusFormatError: the file is missing, empty, holds only blank lines, or has bytes that are not UTF-8.
    """
    lines = [line for _, line in read_lines(path) if line.strip()]
    if not lines:
        raise CorpusFormatError(f"{path}:1: no text (only blank lines)")
    return lines


def build_model(cfg: LMModelConfig, units: Units) -> RNNLanguageModel:
    return RNNLanguageModel(units.size, rnn=cfg.rnn, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
                            layers=cfg.layers, dropout=cfg.dropout, tie=cfg.tie, forget_bias=cfg.forget_bias, head=cfg.head,
                            weight_drop=cfg.weight_drop, embed_dropout=cfg.embed_dropout, activation_reg=cfg.activation_reg,
                            temporal_reg=cfg.temporal_reg)  # fmt: skip


def segment_loss(model: nn.Module, batch: StreamBatch, state: State | None) -> tuple[Tensor, Tensor, State]:
    """(summed negative log-likelihood, tokens, the state after the segment, still attached)."""
    nll, new_state = model(batch.inputs, None if batch.fresh else state, to_classes(batch.targets))
    return nll, torch.tensor(batch.num_tokens, device=nll.device), new_state


@torch.no_grad()
def stream_nll(model: RNNLanguageModel, stream: Tensor, rows: int = 1, bptt: int = 100) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) and the number of predicted tokens of a stream, cut into
    `rows` parallel rows and read in segments of `bptt` steps with the state carried."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    data = batchify(stream, rows).to(device)
    total, count, state = 0.0, 0, None
    for batch in segments(data.shape[0], data.shape[1] - 1, bptt):
        nll, tokens, state = segment_loss(model, collate_segments(data, batch), state)
        total += float(nll)
        count += int(tokens)
    model.train(was_training)
    return total, count


def perplexity_metrics(nll: float, tokens: int, unit: str, characters: int | None = None) -> dict[str, float]:
    """Perplexity per unit; for characters also bits per character (the same figure in bits)."""
    metrics = {"ppl": math.exp(nll / tokens), "nll": nll / tokens}
    if unit == "char":
        metrics["bpc"] = nll / tokens / math.log(2)
    elif characters:
        metrics["bpc"] = nll / characters / math.log(2)
    return metrics


def check_stream(stream: Tensor, rows: int, bptt: int, path: Path, lines: int) -> None:
    """A training stream must give every row at least one segment.

    Raises:
        CorpusFormatError: `file:line: problem` naming the sizes and what to lower.
    """
    needed = rows * (bptt + 1)
    if stream.numel() < needed:
        raise CorpusFormatError(
            f"{path}:{lines}: the corpus has {stream.numel()} tokens (with one <eos> a line), fewer than one segment of "
            f"{bptt} steps for each of {rows} streams ({needed}); lower --batch-size or --bptt, or add text"
        )  # fmt: skip


class LMTask:
    """The engine's view of language modelling: batches are segments, the state is carried between them."""

    unit = "tok"
    metric = "neg_ppl"
    scale = "perplexity"  # the log's dev figures: perplexity per unit (and nats, bits per character) as they are

    def __init__(self, cfg: LMModelConfig, train_cfg: TrainConfig, data_cfg: LMDataConfig, units: Units,
                 train: Tensor, dev: Tensor, data_info: dict | None = None,
                 lines: Sequence[Sequence[int]] | None = None) -> None:  # fmt: skip
        """`train` is the training stream (`token_stream` of the encoded lines); with
        data_cfg.shuffle_lines the encoded `lines` themselves, from which each epoch builds its own."""
        if data_cfg.shuffle_lines and lines is None:
            raise ValueError("shuffle_lines needs the encoded training lines")
        self.cfg, self.train_cfg, self.data_cfg, self.units = cfg, train_cfg, data_cfg, units
        self.data = batchify(train, train_cfg.batch_size)
        self.lines = lines
        self.dev = dev
        self.data_info = data_info or {}
        self.state: State | None = None

    def train_batches(self, epoch: int) -> list[list[Segment]]:
        """The epoch's segments (with shuffle_lines over a stream of the lines in the epoch's order,
        which `collate` then reads: a function of (seed, epoch) alone, as resuming needs)."""
        rng = epoch_rng(self.train_cfg.seed, epoch)
        if self.data_cfg.shuffle_lines:
            order = list(range(len(self.lines)))  # type: ignore[arg-type]
            rng.shuffle(order)
            stream = token_stream((self.lines[i] for i in order), self.units.eos_id)  # type: ignore[index]
            self.data = batchify(stream, self.train_cfg.batch_size)
        return segments(self.data.shape[0], self.data.shape[1] - 1, self.data_cfg.bptt, rng if self.data_cfg.vary_bptt else None)

    def collate(self, batch: Sequence[Segment]) -> StreamBatch:
        return collate_segments(self.data, batch)

    def loss(self, model: nn.Module, batch: StreamBatch) -> tuple[Tensor, Tensor]:
        nll, tokens, state = segment_loss(model, batch, self.state)
        self.state = detach_state(state)  # carried into the next segment, the gradient cut here
        return nll, tokens

    def items(self, batch: StreamBatch) -> int:
        return batch.num_tokens

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        nll, tokens = stream_nll(model, self.dev, self.data_cfg.eval_streams, self.data_cfg.eval_bptt)  # type: ignore[arg-type]
        return {f"neg_{k}": -v for k, v in perplexity_metrics(nll, tokens, self.cfg.unit).items()}

    def training_state(self) -> dict[str, Any]:
        """The carried state, saved with mid-epoch checkpoints so that a resumed run continues exactly.

        With data parallelism only the main process writes checkpoints, so no state is saved there: a
        run resumed mid-epoch then starts its streams from zero states (the weights still resume exactly).
        """
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1
        if self.state is None or distributed:
            return {"state": None}
        return {"state": [s if isinstance(s, tuple) else (s,) for s in self.state]}

    def restore_training_state(self, saved: dict[str, Any], device: torch.device) -> None:
        state = saved.get("state")
        self.state = None if state is None else [
            tuple(t.to(device) for t in s) if len(s) == 2 else s[0].to(device) for s in state  # type: ignore[misc]
        ]  # fmt: skip

    def archive(self, model: nn.Module) -> dict:
        return lm_archive(model, self.cfg, self.train_cfg, self.data_cfg, self.units, self.data_info)


def lm_archive(model: nn.Module, cfg: LMModelConfig, train_cfg: TrainConfig, data_cfg: LMDataConfig, units: Units,
               data_info: dict) -> dict:  # fmt: skip
    """The model archive: configs, the units (vocabulary or SentencePiece model), weights."""
    return make_archive(
        TASK,
        {"model": asdict(cfg), "train": asdict(train_cfg), "data": asdict(data_cfg), "data_info": data_info},
        {"units": units.to_dict()},
        model.state_dict(),
    )


@dataclass
class LineScore:
    """One line scored on its own: the log-probability (nats) of its tokens and final <eos>."""

    ids: list[int]
    token_logprobs: list[float]

    @property
    def logprob(self) -> float:
        return sum(self.token_logprobs)


ROW_MULTIPLE = 8  # score: batches of 8, 16, 24, ... rows, whatever the number of lines


@dataclass
class LMInference:
    """A trained language model loaded from its archive."""

    model: RNNLanguageModel
    cfg: LMModelConfig
    data_cfg: LMDataConfig
    units: Units
    precision: str = "fp32"

    @classmethod
    def from_archive(cls, archive: dict, device: torch.device, precision: str = "fp32") -> LMInference:
        check_inference_precision(precision)
        cfg = LMModelConfig(**archive["config"]["model"])
        units = Units.from_dict(archive["vocabs"]["units"])
        model = build_model(cfg, units)
        model.load_state_dict(archive["state_dict"])
        model.to(device).eval()
        return cls(model, cfg, LMDataConfig(**archive["config"]["data"]), units, precision)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def score(self, encoded: Sequence[Sequence[int]], max_tokens: int = 8000) -> list[LineScore]:
        """Each line's token log-probabilities from a fresh state after a line-start <eos>; lines run in
        batches of about `max_tokens` padded tokens (padding is at the end and never read back).

        A line's scores do not depend on the lines it is batched with: every batch holds a multiple of
        ROW_MULTIPLE rows (blank rows fill it), since a matrix product over one row (or a few) takes
        another kernel than over many, which rounds differently (a line scored alone and in a batch of
        64 differed in the 4th decimal of its log-probability).
        """
        from treeseq.data.batching import budget_batches  # noqa: PLC0415

        eos = self.units.eos_id
        rows = [[eos, *ids, eos] for ids in encoded]
        out: list[LineScore | None] = [None] * len(rows)
        lengths = [len(r) - 1 for r in rows]
        for indices in budget_batches(lengths, lengths, max_tokens, max_items=512):
            width = max(lengths[i] for i in indices) + 1
            ids = torch.zeros(-(-len(indices) // ROW_MULTIPLE) * ROW_MULTIPLE, width, dtype=torch.long)
            ids[len(indices) :, 0] = eos
            for b, i in enumerate(indices):
                ids[b, : len(rows[i])] = torch.tensor(rows[i])
            ids = ids.to(self.device)
            with autocast(self.device.type, self.precision):
                logits, _ = self.model(ids[:, :-1])
            logprobs = logits.float().log_softmax(-1).gather(2, to_classes(ids[:, 1:]).clamp_min(0).unsqueeze(2)).squeeze(2)
            for b, i in enumerate(indices):
                out[i] = LineScore(rows[i][1:-1], logprobs[b, : lengths[i]].tolist())
        return out  # type: ignore[return-value]

    def stream_metrics(self, encoded: Sequence[Sequence[int]], characters: int) -> tuple[dict[str, float], int]:
        """Perplexity (and bits per `characters` of text) of encoded lines read as one stream, as dev is
        measured; the number of predicted tokens."""
        stream = token_stream(encoded, self.units.eos_id)
        if stream.numel() < 2:
            raise CorpusFormatError("the text has fewer than two tokens to predict from")
        nll, tokens = stream_nll(self.model, stream, self.data_cfg.eval_streams, self.data_cfg.eval_bptt)
        return perplexity_metrics(nll, tokens, self.cfg.unit, characters), tokens
