"""Decoding with a trained encoder-decoder: an inference decoder built once from the model.

The model (treeseq.models.seq2seq) reads like its papers and writes the decoder step once. Decoding
calls that step hundreds of times with few rows, so the inference decoder runs it on other layers
(`DecoderKernels`), with the same results up to summation order (tests check it against the model's
own step):
- the decoder RNN's input and hidden products, the combine layer and the output layer run on packed
  copies of the weights (treeseq.nn.packed: oneDNN's blocked layout, bf16 products on request, fp32
  recurrences and softmaxes);
- attention that reads this step's output (Luong) mixes the memory already projected through the
  context half of the combine layer, W_c [h; c] = W_h h + sum_s a_s (W_m m_s): the first step projects
  the memory once per sentence and later steps skip the (N, M) context and its product; the memory
  itself is then dropped, so beam search's select and merge copy only what decoding reads.
An ensemble of models decodes as one (`EnsembleDecoder`): the mean of the members' next-token
probabilities at every step, their states reordered together.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor

from treeseq.errors import ShapeError
from treeseq.models.ensemble import Seq2SeqEnsemble, mean_log_probs
from treeseq.models.seq2seq import Hidden, Seq2Seq, Seq2SeqState, step_log_probs
from treeseq.nn.packed import PackedLinear
from treeseq.nn.rnn import cell_step


class DecoderKernels:
    """The decoder step's layers on frozen, packed copies of the weights (fp32 results, products in
    `dtype`): the StepOps that `Seq2Seq.step_logits` runs when decoding (no dropout, no autograd).

    Attention whose query is this step's output (Luong) combines with the memory only through the
    context half of the combine layer, linearly: W_c [h; c] = W_h h + sum_s a_s (W_m m_s). So the first
    step projects the memory once per sentence (`projected`) and drops it, and every step mixes the
    projections with its weights instead of forming the context (an attention that combined otherwise
    would need its own `attend_combine`).
    """

    def __init__(self, model: Seq2Seq, dtype: torch.dtype) -> None:
        rnn, size = model.decoder, model.hidden_size
        layers = range(model.dec_layers)
        self.model = model
        self.kind = model.rnn_kind  # a registered recurrent cell (treeseq.nn.rnn)
        self.ih = [PackedLinear(getattr(rnn, f"weight_ih_l{i}"), getattr(rnn, f"bias_ih_l{i}", None), dtype) for i in layers]
        self.hh = [PackedLinear(getattr(rnn, f"weight_hh_l{i}"), getattr(rnn, f"bias_hh_l{i}", None), dtype) for i in layers]
        self.combine_layer = PackedLinear(model.combine.weight, None, dtype)
        self.combine_hidden = PackedLinear(model.combine.weight[:, :size], None, dtype)
        self.output_layer = PackedLinear(model.output.weight, model.output.bias, dtype)

    def embed(self, ids: Tensor) -> Tensor:
        return self.model.tgt_embed(ids)

    def rnn_step(self, inputs: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """One step of the stacked decoder RNN (no dropout between layers), fp32 state."""
        states, cells, x = [], [], inputs
        for layer, (ih, hh) in enumerate(zip(self.ih, self.hh)):
            if isinstance(hidden, tuple):  # a paired (h, c) state, as an LSTM's
                x, (_, c) = cell_step(self.kind, x, (hidden[0][layer].float(), hidden[1][layer].float()), ih, hh)
                cells.append(c)
            else:
                x, _ = cell_step(self.kind, x, hidden[layer].float(), ih, hh)
            states.append(x)
        stacked = torch.stack(states)
        return x, ((stacked, torch.stack(cells)) if isinstance(hidden, tuple) else stacked)

    def combine(self, output: Tensor, context: Tensor) -> Tensor:
        return torch.tanh(self.combine_layer(torch.cat([output, context.to(output.dtype)], -1)))  # (N, E)

    def attend_combine(self, output: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor, Seq2SeqState]:
        model = self.model
        if state.projected is None:  # first step: W_c [h; c] = W_h h + sum_s a_s W_m m_s
            if state.memory is None:
                raise ShapeError("a decoder state with neither memory nor its projection")
            projected = F.linear(state.memory, model.combine.weight[:, model.hidden_size :])  # (B, S, E)
            state = replace(state, projected=projected, memory=None)
        batch = state.keys.shape[0]
        weights = model.attention.weights(output.view(batch, -1, output.shape[-1]), state.keys, state.mask)
        mixed = torch.bmm(weights.to(state.projected.dtype), state.projected).reshape(output.shape[0], -1)
        own = self.combine_hidden(output)
        return torch.tanh(own + mixed.to(own.dtype)), weights.reshape(output.shape[0], -1), state

    def output(self, attentional: Tensor) -> Tensor:
        return self.output_layer(attentional)


class InferenceDecoder:
    """A trained Seq2Seq made ready for decoding: `encode` and `decode_step` for treeseq.decoding's searches.

    Build it with `inference_decoder(model, dtype)`, which keeps one per model and weight type and
    rebuilds it once the weights change (an optimizer step between dev evaluations). It runs the
    model's own decoder step (`Seq2Seq.step_logits`) on the packed kernels, without autograd and
    with the model's eval-mode behaviour (no dropout).
    """

    def __init__(self, model: Seq2Seq, dtype: torch.dtype = torch.float32) -> None:
        self.model, self.dtype = model, dtype
        self.kernels = DecoderKernels(model, dtype)
        self.key = weight_key(model, dtype)

    @torch.no_grad()
    def encode(self, src_ids: Tensor, src_lengths: Tensor) -> Seq2SeqState:
        return self.model.encode(src_ids, src_lengths)

    @torch.no_grad()
    def step_logits(self, prev_ids: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState, Tensor]:
        """One decoder step for N rows: logits (N, V), the new state, attention weights (N, S)."""
        return self.model.step_logits(prev_ids, state, self.kernels)

    def decode_step(self, prev_ids: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState, Tensor]:
        """fp32 log-probabilities (N, V), the new state, attention (N, S); pad and bos are never predicted."""
        logits, state, weights = self.step_logits(prev_ids, state)
        return step_log_probs(logits), state, weights


@dataclass
class EnsembleState:
    """The members' decoder states for the same N rows, reordered and selected together."""

    members: list[Seq2SeqState]

    def reorder(self, indices: Tensor) -> EnsembleState:
        return EnsembleState([s.reorder(indices) for s in self.members])

    def select(self, sentences: Tensor, rows: Tensor) -> EnsembleState:
        return EnsembleState([s.select(sentences, rows) for s in self.members])

    def merge(self, other: EnsembleState) -> EnsembleState:
        return EnsembleState([s.merge(o) for s, o in zip(self.members, other.members)])

    @property
    def rows(self) -> int:
        return self.members[0].rows


class EnsembleDecoder:
    """The members' inference decoders as one: each step's log-probabilities are the log of the mean of
    the members' next-token probabilities, attention the mean of their weights; greedy and beam search
    drive it as one decoder, so the members' decoders run inside one beam."""

    def __init__(self, decoders: list[InferenceDecoder]) -> None:
        self.decoders = decoders

    @torch.no_grad()
    def encode(self, src_ids: Tensor, src_lengths: Tensor) -> EnsembleState:
        return EnsembleState([d.encode(src_ids, src_lengths) for d in self.decoders])

    def decode_step(self, prev_ids: Tensor, state: EnsembleState) -> tuple[Tensor, EnsembleState, Tensor]:
        found = [d.decode_step(prev_ids, s) for d, s in zip(self.decoders, state.members)]
        log_probs = mean_log_probs([lp for lp, _, _ in found])
        weights = torch.stack([w.float() for _, _, w in found]).mean(0)
        return log_probs, EnsembleState([s for _, s, _ in found]), weights


def weight_key(model: Seq2Seq, dtype: torch.dtype) -> tuple:
    """What identifies the decoder's weights as they are now: their storage and in-place versions."""
    weights = [*model.decoder.parameters(), model.combine.weight, model.output.weight, model.output.bias]
    return (dtype, *((w.data_ptr(), w._version) for w in weights))


_DECODERS: weakref.WeakKeyDictionary[Seq2Seq, InferenceDecoder] = weakref.WeakKeyDictionary()


def inference_decoder(model: Seq2Seq | Seq2SeqEnsemble, dtype: torch.dtype = torch.float32) -> InferenceDecoder | EnsembleDecoder:
    """The model's inference decoder for products in `dtype`, packed once and reused while the weights
    stay the same (decoding one sentence at a time does not repack per sentence); for an ensemble, its
    members' decoders as one."""
    if isinstance(model, Seq2SeqEnsemble):
        return EnsembleDecoder([inference_decoder(m, dtype) for m in model.members])  # type: ignore[misc, arg-type]
    found = _DECODERS.get(model)
    if found is None or found.key != weight_key(model, dtype):
        found = _DECODERS[model] = InferenceDecoder(model, dtype)
    return found
