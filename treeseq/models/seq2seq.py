"""Attentional encoder-decoder: a bidirectional GRU/LSTM encoder over packed sequences and an RNN decoder.

Decoder variants (Bahdanau et al. 2015; Luong et al. 2015), by where the attention takes its query
(the attention kinds are registered by name in treeseq.nn.attention; `Attention.query` says which):
- the previous decoder state (`bahdanau`, additive): the context is an RNN input beside the word, and
  the step's output combines with it;
- this step's RNN output (`dot` / `general`, Luong): with `input_feeding` the previous attentional
  vector is an RNN input. Without input feeding nothing flows from one step's attention to the next,
  so training runs the decoder RNN over the whole target in one call and attends with all target
  positions at once (`whole_target_logits`, the fast path).
Every variant also has the step-by-step path (`stepwise_logits`), used for scheduled sampling and as the
reference. The attentional vector tanh(W [h; c]) has the embedding size, so the output layer can share
the target embedding matrix (tied embeddings).

The decoder step is written once (`Seq2Seq.step_logits`) over `StepOps`, the layers it runs: the
model's own here (`ModelOps`, with dropout), packed copies for decoding in
treeseq.decoding.seq2seq_inference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from treeseq.data.batching import length_mask
from treeseq.errors import ConfigError, ShapeError
from treeseq.nn.attention import attention_class
from treeseq.nn.rnn import recurrent_cell, recurrent_layer

PAD_ID, BOS_ID = 0, 2
Hidden = Tensor | tuple[Tensor, Tensor]  # GRU: h (L, N, H); LSTM: (h, c)


@dataclass
class Seq2SeqState:
    """Decoder state for N = B x k rows (k rows per sentence); memory, keys and mask stay per sentence."""

    hidden: Hidden
    feed: Tensor | None  # (N, E): the previous attentional vector (input feeding), else None
    memory: Tensor | None  # (B, S, M); None once decoding has projected it (see `projected`)
    keys: Tensor  # (B, S, K)
    mask: Tensor  # (B, S) bool
    # (B, S, E): the memory through the context half of the combine layer, made by the inference
    # decoder's first Luong step (treeseq.decoding.seq2seq_inference), which then drops the memory.
    projected: Tensor | None = None

    def reorder(self, indices: Tensor) -> Seq2SeqState:
        """Rows `indices` (each within its own sentence's group); memory is shared and not copied."""
        if isinstance(self.hidden, tuple):
            hidden: Hidden = (self.hidden[0].index_select(1, indices), self.hidden[1].index_select(1, indices))
        else:
            hidden = self.hidden.index_select(1, indices)
        feed = None if self.feed is None else self.feed.index_select(0, indices)
        return replace(self, hidden=hidden, feed=feed)

    def select(self, sentences: Tensor, rows: Tensor) -> Seq2SeqState:
        """Only these sentences (their memory) and these rows (their beams): beam search drops finished sentences."""
        reordered = self.reorder(rows)
        projected = None if self.projected is None else self.projected.index_select(0, sentences)
        memory = None if self.memory is None else self.memory.index_select(0, sentences)
        return replace(reordered, memory=memory, keys=self.keys.index_select(0, sentences),
                       mask=self.mask.index_select(0, sentences), projected=projected)  # fmt: skip

    def merge(self, other: Seq2SeqState) -> Seq2SeqState:
        """These sentences and rows followed by `other`'s (beam search's refill); sources padded to the longer."""
        width = max(self.keys.shape[1], other.keys.shape[1])

        def pad(x: Tensor) -> Tensor:  # (B, S, ...) -> (B, width, ...), zeros (mask: False) after S
            extra = width - x.shape[1]
            return x if extra == 0 else torch.cat([x, x.new_zeros(x.shape[0], extra, *x.shape[2:])], 1)

        def both(a: Tensor | None, b: Tensor | None, dim: int, padded: bool = False) -> Tensor | None:
            if a is None or b is None:
                return None
            return torch.cat([pad(a), pad(b)] if padded else [a, b], dim)

        if isinstance(self.hidden, tuple) and isinstance(other.hidden, tuple):
            hidden: Hidden = (torch.cat([self.hidden[0], other.hidden[0]], 1), torch.cat([self.hidden[1], other.hidden[1]], 1))
        else:
            hidden = torch.cat([self.hidden, other.hidden], 1)  # type: ignore[list-item]
        return Seq2SeqState(
            hidden, both(self.feed, other.feed, 0), both(self.memory, other.memory, 0, True),
            both(self.keys, other.keys, 0, True), both(self.mask, other.mask, 0, True),  # type: ignore[arg-type]
            both(self.projected, other.projected, 0, True),
        )

    @property
    def rows(self) -> int:
        return (self.hidden[0] if isinstance(self.hidden, tuple) else self.hidden).shape[1]


class Seq2Seq(nn.Module):
    """Encoder, bridge, attention and decoder; `forward` gives the teacher-forced logits."""

    def __init__(
        self, src_vocab: int, tgt_vocab: int, *, rnn: str = "gru", embed_dim: int = 256, hidden_size: int = 512,
        enc_layers: int = 1, dec_layers: int = 1, attention: str = "general", input_feeding: bool = False,
        dropout: float = 0.3, tie_embeddings: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        paired = recurrent_cell(rnn).paired  # an LSTM's (h, c) state
        memory_size = 2 * hidden_size
        attention_type = attention_class(attention)
        self.rnn_kind, self.attention_kind = rnn, attention
        self.input_feeding = input_feeding and attention_type.query == "output"
        dec_size = attention_type.decoder_size(hidden_size, memory_size)  # dot products need equal sizes
        self.dec_layers, self.hidden_size = dec_layers, dec_size
        self.src_embed = nn.Embedding(src_vocab, embed_dim, padding_idx=PAD_ID)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_dim, padding_idx=PAD_ID)
        self.encoder = recurrent_layer(rnn, embed_dim, hidden_size, enc_layers, bidirectional=True,
                                       dropout=dropout if enc_layers > 1 else 0.0)  # fmt: skip
        self.bridge = nn.Linear(memory_size, dec_layers * dec_size * (2 if paired else 1))
        extra = memory_size if attention_type.query == "previous" else (embed_dim if self.input_feeding else 0)
        self.decoder = recurrent_layer(rnn, embed_dim + extra, dec_size, dec_layers,
                                       dropout=dropout if dec_layers > 1 else 0.0)  # fmt: skip
        self.attention = attention_type(dec_size, memory_size, hidden_size)
        self.combine = nn.Linear(dec_size + memory_size, embed_dim, bias=False)
        self.output = nn.Linear(embed_dim, tgt_vocab)
        if tie_embeddings:
            self.output.weight = self.tgt_embed.weight
        self.dropout = nn.Dropout(dropout)

    @property
    def has_fast_path(self) -> bool:
        """Whether training can run the decoder over the whole target at once."""
        return self.attention.query == "output" and not self.input_feeding

    def encode(self, src_ids: Tensor, src_lengths: Tensor) -> Seq2SeqState:
        """Encode padded sources (B, S) into the initial decoder state (one row per sentence)."""
        if src_ids.dim() != 2 or src_lengths.shape != src_ids.shape[:1]:
            raise ShapeError(f"src_ids must be (B, S) with lengths (B,), got {tuple(src_ids.shape)}, {tuple(src_lengths.shape)}")
        embedded = self.dropout(self.src_embed(src_ids))
        packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.encoder(packed)
        memory, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src_ids.shape[1])  # (B, S, 2H)
        final_h = final[0] if isinstance(final, tuple) else final  # (layers * 2, B, H)
        summary = torch.cat([final_h[-2], final_h[-1]], dim=-1)  # last layer, both directions: (B, 2H)
        bridged = torch.tanh(self.bridge(summary)).view(summary.shape[0], -1, self.dec_layers, self.hidden_size)
        states = bridged.permute(1, 2, 0, 3).contiguous()  # (1 or 2, layers, B, H)
        hidden: Hidden = (states[0], states[1]) if recurrent_cell(self.rnn_kind).paired else states[0]
        mask = length_mask(src_lengths, src_ids.shape[1], src_ids.device)
        feed = memory.new_zeros(src_ids.shape[0], self.tgt_embed.embedding_dim) if self.input_feeding else None
        return Seq2SeqState(hidden, feed, memory, self.attention.keys(memory), mask)

    def attend(self, query: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor]:
        """query (N, H) -> context (N, M), weights (N, S), with the N rows grouped by sentence."""
        if state.memory is None:
            raise ShapeError("this decoder state has no memory left (the inference decoder projected it): continue with that decoder")
        batch = state.memory.shape[0]
        context, weights = self.attention(query.view(batch, -1, query.shape[-1]), state.keys, state.memory, state.mask)
        return context.reshape(query.shape[0], -1), weights.reshape(query.shape[0], -1)

    def step_logits(self, prev_ids: Tensor, state: Seq2SeqState, ops: StepOps | None = None) -> tuple[Tensor, Seq2SeqState, Tensor]:
        """One decoder step for N rows: logits (N, V), the new state, attention weights (N, S).

        `ops` are the layers the step runs: the model's own by default (training, with dropout);
        decoding passes packed copies (treeseq.decoding.seq2seq_inference), the same numbers up to
        summation order.
        """
        ops = ops or ModelOps(self)
        embedded = ops.embed(prev_ids)  # (N, E)
        if self.attention.query == "previous":  # the context is an RNN input
            context, weights = self.attend(top_layer(state.hidden), state)
            output, hidden = ops.rnn_step(torch.cat([embedded, context.to(embedded.dtype)], -1), state.hidden)
            attentional = ops.combine(output, context)
        else:  # the context combines with this step's output
            inputs = embedded if state.feed is None else torch.cat([embedded, state.feed.to(embedded.dtype)], -1)
            output, hidden = ops.rnn_step(inputs, state.hidden)
            attentional, weights, state = ops.attend_combine(output, state)
        feed = attentional if self.input_feeding else None
        return ops.output(attentional), replace(state, hidden=hidden, feed=feed), weights

    def _rnn_step(self, inputs: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """The decoder RNN over one step: inputs (N, I) -> output (N, H), new hidden."""
        output, new_hidden = self.decoder(inputs.unsqueeze(1), hidden)
        return output.squeeze(1), new_hidden

    def decode_step(self, prev_ids: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState, Tensor]:
        """The step function for treeseq.decoding: fp32 log-probabilities (N, V), state, attention (N, S).

        Padding and bos (ids 0 and 2) are never predicted: their probability mass is removed.
        """
        logits, state, weights = self.step_logits(prev_ids, state)
        return step_log_probs(logits), state, weights

    def whole_target_logits(self, state: Seq2SeqState, tgt_in: Tensor) -> Tensor:
        """The fast path: the decoder over the whole target at once, (B, T) -> logits (B, T, V)."""
        if not self.has_fast_path:
            raise ConfigError("the whole-target decoder needs Luong attention without input feeding")
        embedded = self.dropout(self.tgt_embed(tgt_in))
        if state.memory is None:
            raise ShapeError("the whole-target decoder needs a freshly encoded state (this one's memory was projected)")
        outputs, _ = self.decoder(embedded, state.hidden)  # (B, T, H); padding at the end cannot leak back
        context, _ = self.attention(outputs, state.keys, state.memory, state.mask)  # (B, T, M)
        attentional = torch.tanh(self.combine(torch.cat([outputs, context.to(outputs.dtype)], -1)))
        return self.output(self.dropout(attentional))

    def stepwise_logits(self, state: Seq2SeqState, tgt_in: Tensor, sampling_prob: float = 0.0) -> Tensor:
        """The decoder one step at a time; with `sampling_prob` > 0 each input token is replaced, with that
        probability, by the model's own greedy choice at the previous step (scheduled sampling)."""
        logits: list[Tensor] = []
        prev = tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            if t > 0:
                prev = tgt_in[:, t]
                if sampling_prob > 0:
                    sampled = torch.rand(prev.shape, device=prev.device) < sampling_prob
                    prev = torch.where(sampled & (prev != PAD_ID), logits[-1].detach().argmax(-1), prev)
            step, state, _ = self.step_logits(prev, state)
            logits.append(step)
        return torch.stack(logits, dim=1)

    def teacher_forced_logits(self, src_ids: Tensor, src_lengths: Tensor, tgt_in: Tensor, sampling_prob: float = 0.0) -> Tensor:
        """Logits (B, T, V) for decoder inputs `tgt_in` (bos + target); the fast path when it applies."""
        state = self.encode(src_ids, src_lengths)
        if self.has_fast_path and sampling_prob == 0:
            return self.whole_target_logits(state, tgt_in)
        return self.stepwise_logits(state, tgt_in, sampling_prob)

    def forward(self, src_ids: Tensor, src_lengths: Tensor, tgt_in: Tensor, sampling_prob: float = 0.0) -> Tensor:
        """Teacher-forced logits (B, T, V) for decoder inputs `tgt_in` (see teacher_forced_logits)."""
        return self.teacher_forced_logits(src_ids, src_lengths, tgt_in, sampling_prob)

    def target_token_log_probs(self, src_ids: Tensor, src_lengths: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
        """Forced decoding: the log-probability of each target token (eos included), (B, T), 0 on padding."""
        logits = self.teacher_forced_logits(src_ids, src_lengths, tgt_in).float()
        logits[..., [PAD_ID, BOS_ID]] = float("-inf")  # as in decode_step
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, tgt_out.unsqueeze(-1)).squeeze(-1)
        return log_probs.masked_fill(tgt_out == PAD_ID, 0.0)

    def target_log_probs(self, src_ids: Tensor, src_lengths: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
        """Forced decoding: each target's summed log-probability (eos included), (B,)."""
        return self.target_token_log_probs(src_ids, src_lengths, tgt_in, tgt_out).sum(-1)


def top_layer(hidden: Hidden) -> Tensor:
    """The last decoder layer's state (N, H), the query of attention that reads the previous state."""
    return (hidden[0] if isinstance(hidden, tuple) else hidden)[-1]


def step_log_probs(logits: Tensor) -> Tensor:
    """fp32 log-probabilities of a step's logits (N, V) with padding and bos never predicted."""
    logits = logits.float()  # a step's fresh logits (decoding runs without autograd), so filled in place
    logits.index_fill_(1, torch.tensor([PAD_ID, BOS_ID], device=logits.device), float("-inf"))
    return torch.log_softmax(logits, dim=-1)


class StepOps(Protocol):
    """The layers one decoder step runs (see Seq2Seq.step_logits)."""

    def embed(self, ids: Tensor) -> Tensor:
        """Target embeddings of the previous tokens, (N, E)."""

    def rnn_step(self, inputs: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """The decoder RNN over one step: output (N, H) and the new hidden state."""

    def combine(self, output: Tensor, context: Tensor) -> Tensor:
        """The attentional vector tanh(W_c [output; context]), (N, E)."""

    def attend_combine(self, output: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor, Seq2SeqState]:
        """Attend with this step's output as the query and combine: the attentional vector (N, E), the
        weights (N, S), and the state (which may keep what later steps reuse)."""

    def output(self, attentional: Tensor) -> Tensor:
        """Logits (N, V)."""


class ModelOps:
    """The model's own layers, with its dropout (training, and the reference for decoding)."""

    def __init__(self, model: Seq2Seq) -> None:
        self.model = model

    def embed(self, ids: Tensor) -> Tensor:
        return self.model.dropout(self.model.tgt_embed(ids))

    def rnn_step(self, inputs: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        return self.model._rnn_step(inputs, hidden)

    def combine(self, output: Tensor, context: Tensor) -> Tensor:
        return torch.tanh(self.model.combine(torch.cat([output, context.to(output.dtype)], -1)))

    def attend_combine(self, output: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor, Seq2SeqState]:
        context, weights = self.model.attend(output, state)
        return self.combine(output, context), weights, state

    def output(self, attentional: Tensor) -> Tensor:
        return self.model.output(self.model.dropout(attentional))

