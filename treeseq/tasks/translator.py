"""Translation: SentencePiece subwords, an attentional encoder-decoder, greedy/beam decoding, BLEU.

Over-long pairs (more than `data.max_len` subwords on either side) are skipped and counted, or fail
with `data.strict`; the reader's policy covers empty lines, misalignment and invalid UTF-8.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from treeseq.checkpoint import make_archive
from treeseq.config import FAMILY_TRAIN_DEFAULTS, TrainConfig, choice
from treeseq.data.parallel import PairExample, SentencePair, Seq2SeqBatch, collate_pairs, collate_sources, pair_batches
from treeseq.decoding import Hypothesis
from treeseq.decoding.beam import beam_search
from treeseq.decoding.greedy import greedy_search
from treeseq.decoding.seq2seq_inference import inference_decoder
from treeseq.device import autocast, autocast_dtype, check_inference_precision, epoch_rng
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.models.seq2seq import PAD_ID, Seq2Seq, Seq2SeqState
from treeseq.nn.attention import ATTENTIONS
from treeseq.nn.rnn import RNNS
from treeseq.options import FAMILIES
from treeseq.subwords import BOS_ID, EOS_ID, SUBWORD_TYPES, Subwords

TASK = "translator"
OPTIONS = FAMILIES["translator"]
TRAIN_DEFAULTS = FAMILY_TRAIN_DEFAULTS["translator"]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslatorModelConfig:
    """Architecture and loss settings (stored in the archive)."""

    rnn: str = "gru"
    embed_dim: int = 256
    hidden_size: int = 512  # per encoder direction; also the decoder size
    enc_layers: int = 1
    dec_layers: int = 1
    attention: str = "general"  # bahdanau, dot or general
    input_feeding: bool = False  # Luong only; off keeps the whole-target fast path
    dropout: float = 0.3
    tie_embeddings: bool = True
    label_smoothing: float = 0.1
    sampling_rate: float = 0.0  # scheduled sampling: probability grows by this much per epoch ...
    sampling_max: float = 0.0  # ... up to this

    def __post_init__(self) -> None:
        choice(self, "rnn", RNNS)
        choice(self, "attention", ATTENTIONS)
        if min(self.embed_dim, self.hidden_size, self.enc_layers, self.dec_layers) < 1:
            raise ConfigError("model sizes and layers must be >= 1")
        if not (0 <= self.dropout < 1 and 0 <= self.label_smoothing < 1 and 0 <= self.sampling_max <= 1):
            raise ConfigError("model.dropout, label_smoothing and sampling_max must be in [0, 1)")


@dataclass(frozen=True)
class TranslatorDataConfig:
    """Languages, subwords, length limits and dev evaluation (stored in the archive)."""

    src: str = "de"
    tgt: str = "en"
    vocab_size: int = 8000
    subword_type: str = "bpe"  # or unigram
    joint: bool = True  # one SentencePiece model for both languages
    max_len: int = 100  # subwords per side; longer training pairs are skipped (or fail with strict)
    strict: bool = False
    dev_bleu: bool = True  # dev metric: greedy BLEU (else -loss, faster)
    dev_subset: int = 0  # sentences of the dev set for the per-epoch BLEU; 0 = all
    eval_tokens: int = 6000  # source tokens per decoding batch

    def __post_init__(self) -> None:
        choice(self, "subword_type", SUBWORD_TYPES)
        if min(self.vocab_size, self.max_len, self.eval_tokens) < 1 or self.dev_subset < 0:
            raise ConfigError("data.vocab_size, max_len and eval_tokens must be >= 1, dev_subset >= 0")


@dataclass(frozen=True)
class DecodeConfig:
    """Search settings for `translate` and `evaluate` (not stored; chosen at decoding time)."""

    beam_size: int = OPTIONS.defaults("predict")["beam"]
    alpha: float = OPTIONS.defaults("predict")["alpha"]  # length penalty exponent
    max_len_ratio: float = OPTIONS.defaults("predict")["max_len_ratio"]  # output budget: ratio x source subwords + offset
    max_len_offset: int = 10
    n_best: int = OPTIONS.defaults("predict")["n_best"]

    def __post_init__(self) -> None:
        # the translator's declaration checks what the options can be (treeseq.options), for every surface
        OPTIONS.check("predict", {"beam": self.beam_size, "n_best": self.n_best, "alpha": self.alpha, "max_len_ratio": self.max_len_ratio})
        if self.max_len_offset < 1:
            raise ConfigError(f"max_len_offset must be >= 1, got {self.max_len_offset}")


@dataclass
class Codec:
    """Source and target subword models (the same object when joint)."""

    src: Subwords
    tgt: Subwords

    def encode_pairs(self, pairs: Sequence[SentencePair], max_len: int, strict: bool) -> tuple[list[PairExample], int]:
        """Examples and how many over-long pairs were skipped.

        Raises:
            CorpusFormatError: with `strict`, the first over-long pair (`file:line`).
        """
        sources, targets = self.src.encode([p.src for p in pairs]), self.tgt.encode([p.tgt for p in pairs])
        out, skipped = [], 0
        for pair, src, tgt in zip(pairs, sources, targets):
            if max(len(src), len(tgt)) > max_len:
                if strict:
                    raise CorpusFormatError(f"{pair.where}: pair has {len(src)}/{len(tgt)} subwords, more than data.max_len={max_len}")
                skipped += 1
                continue
            out.append(PairExample(tuple(src), tuple(tgt)))
        if skipped:
            logger.warning("skipped %d pair(s) longer than %d subwords", skipped, max_len)
        return out, skipped

    def archive_entry(self) -> dict:
        return {"src": self.src.model_bytes, "tgt": None if self.tgt is self.src else self.tgt.model_bytes}

    @classmethod
    def from_entry(cls, entry: dict) -> Codec:
        src = Subwords(entry["src"])
        return cls(src, src if entry["tgt"] is None else Subwords(entry["tgt"]))


def build_model(cfg: TranslatorModelConfig, codec: Codec) -> Seq2Seq:
    """The network for a config and its subword vocabularies."""
    return Seq2Seq(
        len(codec.src), len(codec.tgt), rnn=cfg.rnn, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
        enc_layers=cfg.enc_layers, dec_layers=cfg.dec_layers, attention=cfg.attention, input_feeding=cfg.input_feeding,
        dropout=cfg.dropout, tie_embeddings=cfg.tie_embeddings,
    )  # fmt: skip


@dataclass
class Translation:
    """The n best outputs of one source sentence, as raw text."""

    source: str
    texts: list[str]
    hypotheses: list[Hypothesis]
    source_pieces: list[str]
    target_pieces: list[list[str]]


@torch.no_grad()
def decode_ids(model: Seq2Seq, sources: Sequence[Sequence[int]], cfg: DecodeConfig, max_tokens: int,
               with_attention: bool = False, precision: str = "fp32") -> list[list[Hypothesis]]:  # fmt: skip
    """n-best hypotheses per source (input order), decoding length-sorted batches of about `max_tokens` tokens.

    Beam search (without attention kept) runs as one continuous batch: sentences join, shortest first,
    as others finish. The first batch sets how many sentences search at once; the longer sources that
    join later make the padded source memory grow past `max_tokens` (decoding time goes with the rows,
    sentences x beam, not with the source length).
    """
    device = next(model.parameters()).device
    out: list[list[Hypothesis]] = [[] for _ in sources]
    budget = max(1, max_tokens // cfg.beam_size)
    batches = pair_batches([(len(s), len(s)) for s in sources], budget)
    if not batches:
        return out

    decoder = inference_decoder(model, autocast_dtype(device.type, precision) or torch.float32)

    def encode(indices: list[int]) -> tuple[Seq2SeqState, Tensor]:
        src_ids, lengths = collate_sources([sources[i] for i in indices])
        max_lens = (lengths.float() * cfg.max_len_ratio).long() + cfg.max_len_offset
        return decoder.encode(src_ids.to(device), lengths), max_lens.to(device)

    with autocast(device.type, precision):
        if cfg.beam_size > 1 and not with_attention:
            order = [i for batch in batches for i in batch]  # by length, shortest first
            arrived, waiting = list(batches[0]), order[len(batches[0]) :]

            def refill(free: int) -> tuple[Seq2SeqState, Tensor] | None:
                """Up to `free` waiting sentences: the first batch (the shortest sources) sets how many search at once."""
                joining = waiting[:free]
                if not joining:
                    return None
                del waiting[:free]
                arrived.extend(joining)
                return encode(joining)

            state, max_lens = encode(batches[0])
            found = beam_search(decoder.decode_step, state, bos_id=BOS_ID, eos_id=EOS_ID, beam_size=cfg.beam_size,
                                max_lens=max_lens, alpha=cfg.alpha, n_best=cfg.n_best, refill=refill)  # fmt: skip
            for index, hyps in zip(arrived, found):
                out[index] = hyps
            return out
        for indices in batches:
            state, max_lens = encode(indices)
            if cfg.beam_size == 1:
                found = [[h] for h in greedy_search(decoder.decode_step, state, bos_id=BOS_ID, eos_id=EOS_ID,
                                                    max_lens=max_lens, with_attention=with_attention)]  # fmt: skip
            else:
                found = beam_search(decoder.decode_step, state, bos_id=BOS_ID, eos_id=EOS_ID, beam_size=cfg.beam_size,
                                    max_lens=max_lens, alpha=cfg.alpha, n_best=cfg.n_best,
                                    with_attention=with_attention)  # fmt: skip
            for index, hyps in zip(indices, found):
                for hyp in hyps:
                    if hyp.attention is not None:
                        hyp.attention = hyp.attention[:, : max(1, len(sources[index]))]
                out[index] = hyps
    return out


@torch.no_grad()
def score_pairs(model: Seq2Seq, examples: Sequence[PairExample], max_tokens: int) -> list[float]:
    """Forced decoding: each target's log-probability given its source (eos included)."""
    device = next(model.parameters()).device
    out = [0.0] * len(examples)
    for indices in pair_batches([(len(e.src_ids), len(e.tgt_ids)) for e in examples], max_tokens):
        batch = collate_pairs([examples[i] for i in indices]).to(device)
        values = model.target_log_probs(batch.src_ids, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        for index, value in zip(indices, values.tolist()):
            out[index] = value
    return out


class TranslatorTask:
    """The engine's view of translation."""

    unit = "tok"

    def __init__(self, model_cfg: TranslatorModelConfig, data_cfg: TranslatorDataConfig, train_cfg: TrainConfig,
                 codec: Codec, train: Sequence[PairExample], dev: Sequence[SentencePair], data_info: dict | None = None) -> None:  # fmt: skip
        self.model_cfg, self.data_cfg, self.train_cfg, self.codec = model_cfg, data_cfg, train_cfg, codec
        self.train, self.dev = list(train), list(dev)
        self.metric = "bleu" if data_cfg.dev_bleu else "neg_loss"
        self.data_info = data_info or {}
        self.sampling_prob = 0.0
        subset = self.dev[: data_cfg.dev_subset] if data_cfg.dev_subset else self.dev
        self._dev_refs = [p.tgt for p in subset]
        self._dev_sources = [tuple(ids) for ids in codec.src.encode([p.src for p in subset])]
        self._dev_examples, _ = codec.encode_pairs(self.dev, 10**9, strict=False)

    def train_batches(self, epoch: int) -> list[list[PairExample]]:
        self.sampling_prob = min(self.model_cfg.sampling_max, self.model_cfg.sampling_rate * epoch)
        rng = epoch_rng(self.train_cfg.seed, epoch)
        lengths = [(len(e.src_ids), len(e.tgt_ids)) for e in self.train]
        return [[self.train[i] for i in batch] for batch in pair_batches(lengths, self.train_cfg.batch_size, rng)]

    def collate(self, examples: Sequence[PairExample]) -> Seq2SeqBatch:
        return collate_pairs(examples)

    def loss(self, model: nn.Module, batch: Seq2SeqBatch) -> tuple[Tensor, Tensor]:
        """Label-smoothed cross-entropy summed over target tokens, and the number of tokens."""
        logits = model(batch.src_ids, batch.src_lengths, batch.tgt_in, self.sampling_prob)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), batch.tgt_out.flatten(), ignore_index=PAD_ID,
                               label_smoothing=self.model_cfg.label_smoothing, reduction="sum")  # fmt: skip
        return loss, (batch.tgt_out != PAD_ID).sum()

    def items(self, batch: Seq2SeqBatch) -> int:
        return batch.num_tgt_tokens

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        scores = score_pairs(model, self._dev_examples, self.data_cfg.eval_tokens)  # type: ignore[arg-type]
        tokens = sum(len(e.tgt_ids) + 1 for e in self._dev_examples)
        loss = -sum(scores) / max(1, tokens)
        metrics = {"neg_loss": -loss}  # the epoch line shows metrics x 100
        if self.data_cfg.dev_bleu:
            from treeseq.metrics import corpus_bleu  # noqa: PLC0415

            found = decode_ids(model, self._dev_sources, DecodeConfig(beam_size=1), self.data_cfg.eval_tokens)  # type: ignore[arg-type]
            metrics["bleu"] = 0.01 * corpus_bleu(self.codec.tgt.decode([h[0].tokens for h in found]), self._dev_refs)
        return metrics

    def archive(self, model: nn.Module) -> dict:
        return make_archive(
            TASK,
            {"model": asdict(self.model_cfg), "data": asdict(self.data_cfg), "train": asdict(self.train_cfg),
             "data_info": self.data_info},
            {}, model.state_dict(), subwords=self.codec.archive_entry(),
        )  # fmt: skip


@dataclass
class TranslatorInference:
    """A trained translator loaded from its archive: raw text in, raw text out."""

    model: Seq2Seq
    model_cfg: TranslatorModelConfig
    data_cfg: TranslatorDataConfig
    codec: Codec
    precision: str = "fp32"

    @classmethod
    def from_archive(cls, archive: dict, device: torch.device, precision: str = "fp32") -> TranslatorInference:
        check_inference_precision(precision)
        model_cfg = TranslatorModelConfig(**archive["config"]["model"])
        data_cfg = TranslatorDataConfig(**archive["config"]["data"])
        codec = Codec.from_entry(archive["subwords"])
        model = build_model(model_cfg, codec)
        model.load_state_dict(archive["state_dict"])
        model.to(device).eval()
        return cls(model, model_cfg, data_cfg, codec, precision)

    def translate(self, lines: Sequence[str], cfg: DecodeConfig, with_attention: bool = False) -> list[Translation]:
        """The n best translations of each line."""
        sources = self.codec.src.encode(lines)
        found = decode_ids(self.model, sources, cfg, self.data_cfg.eval_tokens, with_attention, self.precision)
        return [
            Translation(line, self.codec.tgt.decode([h.tokens for h in hyps]), hyps, self.codec.src.pieces(src),
                        [self.codec.tgt.pieces(h.tokens) + ["</s>"] for h in hyps])
            for line, src, hyps in zip(lines, sources, found)
        ]  # fmt: skip

    def score(self, sources: Sequence[str], references: Sequence[str]) -> list[float]:
        """Log-probability of each reference given its source (forced decoding)."""
        src_ids, tgt_ids = self.codec.src.encode(sources), self.codec.tgt.encode(references)
        examples = [PairExample(tuple(s), tuple(t)) for s, t in zip(src_ids, tgt_ids)]
        return score_pairs(self.model, examples, self.data_cfg.eval_tokens)

    def evaluate(self, pairs: Sequence[SentencePair], cfg: DecodeConfig) -> tuple[dict[str, float | str], list[str]]:
        """sacrebleu BLEU, lowercased BLEU and chrF of the translations against the raw references."""
        from treeseq.metrics import translation_scores  # noqa: PLC0415

        outputs = [t.texts[0] for t in self.translate([p.src for p in pairs], cfg)]
        return translation_scores(outputs, [p.tgt for p in pairs]), outputs


def build_codec(pairs: Sequence[SentencePair], cfg: TranslatorDataConfig) -> Codec:
    """Train SentencePiece on the training pairs: one joint model, or one per language."""
    from treeseq.subwords import train_subwords  # noqa: PLC0415

    if cfg.joint:
        shared = Subwords(train_subwords([p.src for p in pairs] + [p.tgt for p in pairs], cfg.vocab_size, cfg.subword_type))
        return Codec(shared, shared)
    src = Subwords(train_subwords([p.src for p in pairs], cfg.vocab_size, cfg.subword_type))
    return Codec(src, Subwords(train_subwords([p.tgt for p in pairs], cfg.vocab_size, cfg.subword_type)))
