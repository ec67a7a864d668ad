"""The models' equations written again from their papers: plain loops over one example, node by node
or step by step, on weights read out of a model's parameters.

Nothing here calls the code under test (no cell's leaf/compose, no cell_step, no CRF method or mask,
no attention module): only the parameters are read, with the layout the module documents (which rows
of a weight hold which gate). A reference that shared the modules' code would agree with them by
construction and could only check batching; these agree only if the modules compute the published
formulas.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import torch
from torch import Tensor

from treeseq.trees import Tree


def sigmoid(x: Tensor) -> Tensor:
    return 1.0 / (1.0 + torch.exp(-x))


def tanh(x: Tensor) -> Tensor:
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))


def blocks(weight: Tensor, count: int) -> list[Tensor]:
    """A weight's rows cut into `count` equal blocks (one per gate, in the module's documented order)."""
    size = weight.shape[0] // count
    return [weight[k * size : (k + 1) * size] for k in range(count)]


# ------------------------------------------------------------------ recursive tree models


def tree_node_states(model: torch.nn.Module, tree: Tree, word_ids: Sequence[int]) -> list[Tensor]:
    """The hidden vector h of every node (tree node order) of a TreeClassifier, by its paper's equations.

    recursive NN (Socher et al. 2011): a leaf is its word vector; p = tanh(W [a; b] + bias).
    RNTN (Socher et al. 2013): p = tanh([a;b]^T V^[1:d] [a;b] + W [a;b] + bias), slice k of V stored as
        columns k*2d .. (k+1)*2d of `cell.tensor`, times `cell.scale`.
    binary Tree-LSTM (Tai et al. 2015, N-ary with N = 2), a forget gate per child:
        i = s(U_i^L h_L + U_i^R h_R + b_i), f_k = s(U_fk^L h_L + U_fk^R h_R + b_fk), o = s(...), u = tanh(...)
        c = i*u + f_L*c_L + f_R*c_R, h = o*tanh(c); a leaf (a word, no children): c = i*u with gates from x.
    child-sum Tree-LSTM (Tai et al. 2015): ht = sum_k h_k,
        i = s(W_i x + U_i ht + b_i), f_k = s(W_f x + U_f h_k + b_f), o = s(W_o x + U_o ht + b_o),
        u = tanh(W_u x + U_u ht + b_u), c = i*u + sum_k f_k*c_k, h = o*tanh(c); no word: W x = 0.
    """
    cell, table = model.cell, model.embedding.weight.detach().double()
    kind = model.kind
    hidden: dict[int, Tensor] = {}
    memory: dict[int, Tensor] = {}
    for node in range(len(tree)):  # post-order: children first
        kids = tree.children[node]
        x = table[word_ids[tree.word[node]]] if tree.word[node] >= 0 else None
        if kind in ("rnn", "rntn"):
            if not kids:
                hidden[node] = x
                continue
            ab = torch.cat([hidden[kids[0]], hidden[kids[1]]])
            pre = cell.combine.weight.detach().double() @ ab + cell.combine.bias.detach().double()
            if kind == "rntn":
                size = ab.shape[0]
                tensor = cell.tensor.detach().double() * cell.scale
                pre = pre + torch.stack([ab @ tensor[:, k * size : (k + 1) * size] @ ab for k in range(size // 2)])
            hidden[node] = tanh(pre)
        elif kind == "binary-lstm":
            if not kids:
                w_i, w_o, w_u = blocks(cell.from_word.weight.detach().double(), 3)
                b_i, b_o, b_u = blocks(cell.from_word.bias.detach().double(), 3)
                i, o, u = sigmoid(w_i @ x + b_i), sigmoid(w_o @ x + b_o), tanh(w_u @ x + b_u)
                memory[node] = i * u
            else:
                left, right = kids
                weight, bias = cell.from_children.weight.detach().double(), cell.from_children.bias.detach().double()
                size = weight.shape[1] // 2
                gates = []
                for w, b in zip(blocks(weight, 5), blocks(bias, 5)):  # i, f_left, f_right, o, u
                    gates.append(w[:, :size] @ hidden[left] + w[:, size:] @ hidden[right] + b)
                i, f_left, f_right, o = (sigmoid(g) for g in gates[:4])
                u = tanh(gates[4])
                memory[node] = i * u + f_left * memory[left] + f_right * memory[right]
            hidden[node] = o * tanh(memory[node])
        elif kind == "childsum-lstm":
            w_i, w_o, w_u, w_f = blocks(cell.from_word.weight.detach().double(), 4)
            b_i, b_o, b_u, b_f = blocks(cell.from_word.bias.detach().double(), 4)
            u_i, u_o, u_u = blocks(cell.from_children.weight.detach().double(), 3)
            u_f = cell.forget_from_child.weight.detach().double()
            wx = (lambda w, x=x: w @ x) if x is not None else (lambda w: torch.zeros(w.shape[0], dtype=torch.float64))
            h_sum = sum((hidden[k] for k in kids), torch.zeros(u_i.shape[1], dtype=torch.float64))
            i = sigmoid(wx(w_i) + u_i @ h_sum + b_i)
            o = sigmoid(wx(w_o) + u_o @ h_sum + b_o)
            u = tanh(wx(w_u) + u_u @ h_sum + b_u)
            c = i * u
            for k in kids:
                c = c + sigmoid(wx(w_f) + u_f @ hidden[k] + b_f) * memory[k]
            memory[node] = c
            hidden[node] = o * tanh(c)
        else:
            raise ValueError(kind)
    return [hidden[n] for n in range(len(tree))]


def tree_logits(model: torch.nn.Module, tree: Tree, word_ids: Sequence[int]) -> Tensor:
    """Every node's class scores (n, C) in tree node order: W_s h + b_s on the node's h."""
    weight, bias = model.output.weight.detach().double(), model.output.bias.detach().double()
    return torch.stack([weight @ h + bias for h in tree_node_states(model, tree, word_ids)])


# ------------------------------------------------------------------ recurrent cells


def rnn_layer_weights(layer: torch.nn.Module, suffix: str = "_l0") -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """W_ih, W_hh, b_ih, b_hh of one direction of one level of a torch RNN module, as float64."""
    return tuple(getattr(layer, f"{name}{suffix}").detach().double() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))  # type: ignore[return-value]


def rnn_step(kind: str, x: Tensor, h: Tensor, c: Tensor | None, weights: tuple[Tensor, ...]) -> tuple[Tensor, Tensor | None]:
    """One step of one example, (x (D,), h (H,), c (H,) for an LSTM) -> (h', c').

    LSTM (Hochreiter & Schmidhuber 1997, with forget gates, gates in torch's order i, f, g, o):
        c' = f*c + i*g, h' = o*tanh(c').
    GRU (Cho et al. 2014, torch's form: the reset gate scales W_hn h + b_hn):
        r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(...), n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),
        h' = (1 - z)*n + z*h.
    plain (Elman 1990): h' = tanh(W x + b + U h + b'); IRNN (Le et al. 2015): the same with ReLU.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    if kind == "lstm":
        pre = [wi @ x + bi + wh @ h + bh for wi, bi, wh, bh in zip(blocks(w_ih, 4), blocks(b_ih, 4), blocks(w_hh, 4), blocks(b_hh, 4))]
        i, f, g, o = sigmoid(pre[0]), sigmoid(pre[1]), tanh(pre[2]), sigmoid(pre[3])
        c_new = f * c + i * g
        return o * tanh(c_new), c_new
    if kind == "gru":
        (wir, wiz, win), (whr, whz, whn) = blocks(w_ih, 3), blocks(w_hh, 3)
        (bir, biz, bin_), (bhr, bhz, bhn) = blocks(b_ih, 3), blocks(b_hh, 3)
        r = sigmoid(wir @ x + bir + whr @ h + bhr)
        z = sigmoid(wiz @ x + biz + whz @ h + bhz)
        n = tanh(win @ x + bin_ + r * (whn @ h + bhn))
        return (1 - z) * n + z * h, None
    pre = w_ih @ x + b_ih + w_hh @ h + b_hh
    if kind == "irnn":
        return torch.where(pre > 0, pre, torch.zeros_like(pre)), None
    if kind == "rnn":
        return tanh(pre), None
    raise ValueError(kind)


def rnn_sequence(kind: str, xs: Tensor, weights: tuple[Tensor, ...], h0: Tensor | None = None) -> Tensor:
    """The states (T, H) of one direction over one sequence xs (T, D) from a zero (or given) state."""
    size = weights[1].shape[1]
    h = torch.zeros(size, dtype=torch.float64) if h0 is None else h0
    c = torch.zeros(size, dtype=torch.float64) if kind == "lstm" else None
    out = []
    for x in xs:
        h, c = rnn_step(kind, x, h, c, weights)
        out.append(h)
    return torch.stack(out)


# ------------------------------------------------------------------ attention


def attend(kind: str, attention: torch.nn.Module, query: Tensor, memory: Tensor, length: int) -> tuple[Tensor, Tensor]:
    """(weights (S,), context (Hm,)) of one query (Hq,) over the first `length` of memory (S, Hm).

    Bahdanau et al. 2015: e_j = v . tanh(W_q q + b + W_m m_j); Luong et al. 2015: dot e_j = q . m_j,
    general e_j = q . (W m_j). a = softmax(e) over the real positions, 0 elsewhere; context = sum_j a_j m_j.
    """
    scores = []
    for j in range(length):
        m = memory[j]
        if kind == "bahdanau":
            v = attention.energy.weight.detach().double()[0]
            w_q, b_q = attention.query_proj.weight.detach().double(), attention.query_proj.bias.detach().double()
            w_m = attention.key_proj.weight.detach().double()
            scores.append(v @ tanh(w_q @ query + b_q + w_m @ m))
        elif kind == "dot":
            scores.append(query @ m)
        elif kind == "general":
            scores.append(query @ (attention.key_proj.weight.detach().double() @ m))
        else:
            raise ValueError(kind)
    top = max(float(s) for s in scores)
    exps = [math.exp(float(s) - top) for s in scores]
    weights = torch.zeros(memory.shape[0], dtype=torch.float64)
    for j, e in enumerate(exps):
        weights[j] = e / sum(exps)
    context = sum((weights[j] * memory[j] for j in range(length)), torch.zeros(memory.shape[1], dtype=torch.float64))
    return weights, context


# ------------------------------------------------------------------ chunk schemes and the CRF


def valid_by_definition(tags: Sequence[str], scheme: str) -> bool:
    """Whether a tag sequence is well formed in a chunk scheme, from the schemes' definitions.

    BIO (IOB2): I-X only inside a chunk of type X (after B-X or I-X).
    IOB1: I-X anywhere; B-X only to split two adjacent chunks of type X (right after B-X or I-X).
    BIOES: B-X opens and E-X closes a chunk of two or more tokens, with I-X inside; S-X is a chunk of one
        token; so I-X and E-X come only after B-X or I-X, B-X, S-X and O only where no chunk is open, and
        no chunk is open at the end.
    """
    open_type = None  # the type of the chunk open before this token
    for tag in tags:
        prefix, _, label = tag.partition("-") if tag != "O" else ("O", "", "")
        if scheme == "bio":
            if prefix == "I" and open_type != label:
                return False
            open_type = label if prefix in ("B", "I") else None
        elif scheme == "iob1":
            if prefix == "B" and open_type != label:
                return False
            if prefix in ("E", "S"):
                return False
            open_type = label if prefix in ("B", "I") else None
        elif scheme == "bioes":
            if prefix in ("I", "E") and open_type != label:
                return False
            if prefix in ("B", "S", "O") and open_type is not None:
                return False
            open_type = label if prefix in ("B", "I") else None
        else:
            raise ValueError(scheme)
    return not (scheme == "bioes" and open_type is not None)


def crf_path_score(params: dict[str, Tensor], emissions: Tensor, path: Sequence[int]) -> Tensor:
    """Lafferty et al. 2001, linear chain: score(y) = start[y_1] + sum_t E[t, y_t] + sum_t T[y_t, y_t+1] + end[y_n]."""
    total = params["start"][path[0]] + params["end"][path[-1]]
    for t, tag in enumerate(path):
        total = total + emissions[t, tag]
    for a, b in zip(path, path[1:]):
        total = total + params["transitions"][a, b]
    return total


def crf_enumerate(params: dict[str, Tensor], emissions: Tensor, labels: Sequence[str] | None = None,
                  scheme: str | None = None) -> tuple[Tensor, list[int], Tensor]:  # fmt: skip
    """log Z, the best path and its score over every tag sequence of one sentence (T, K); with `labels`
    and `scheme`, over the well-formed sequences only (what constrained decoding allows)."""
    length, num_tags = emissions.shape
    scores, paths = [], []
    for path in itertools.product(range(num_tags), repeat=length):
        if labels is not None and not valid_by_definition([labels[k] for k in path], scheme or ""):
            continue
        scores.append(crf_path_score(params, emissions, path))
        paths.append(list(path))
    stacked = torch.stack(scores)
    best = int(stacked.argmax())
    top = float(stacked.max())
    log_z = top + math.log(sum(math.exp(float(s) - top) for s in stacked))
    return torch.tensor(log_z, dtype=torch.float64), paths[best], stacked[best]


# ------------------------------------------------------------------ attentional encoder-decoder


def seq2seq_logits(model: torch.nn.Module, src: Sequence[int], tgt_in: Sequence[int]) -> Tensor:
    """Teacher-forced logits (T, V) of one sentence pair through a one-level Seq2Seq, step by step.

    Encoder: a bidirectional RNN; memory m_j = [fwd_j; bwd_j]; the decoder starts from
    tanh(W_b [fwd_S; bwd_1] + b_b) (h, then c for an LSTM). Bahdanau et al. 2015: attend with the previous
    decoder state, feed [y; context] to the RNN. Luong et al. 2015: run the RNN on y (and, with input
    feeding, the previous attentional vector), attend with its output. Both: attentional vector
    ht = tanh(W_c [h; context]), logits = W_o ht + b_o.
    """
    kind, attention_kind = model.rnn_kind, model.attention_kind
    encoder = model.encoder
    xs = model.src_embed.weight.detach().double()[list(src)]
    fwd = rnn_sequence(kind, xs, rnn_layer_weights(encoder, "_l0"))
    bwd = rnn_sequence(kind, xs.flip(0), rnn_layer_weights(encoder, "_l0_reverse")).flip(0)
    memory = torch.cat([fwd, bwd], dim=1)  # (S, 2H)
    start = tanh(model.bridge.weight.detach().double() @ torch.cat([fwd[-1], bwd[0]]) + model.bridge.bias.detach().double())
    size = model.hidden_size
    h = start[:size]
    c = start[size : 2 * size] if kind == "lstm" else None
    weights = rnn_layer_weights(model.decoder, "_l0")
    combine = model.combine.weight.detach().double()
    out_w, out_b = model.output.weight.detach().double(), model.output.bias.detach().double()
    feed = torch.zeros(model.tgt_embed.embedding_dim, dtype=torch.float64)
    logits = []
    for token in tgt_in:
        y = model.tgt_embed.weight.detach().double()[token]
        if attention_kind == "bahdanau":
            _, context = attend("bahdanau", model.attention, h, memory, len(src))
            h, c = rnn_step(kind, torch.cat([y, context]), h, c, weights)
        else:
            h, c = rnn_step(kind, torch.cat([y, feed]) if model.input_feeding else y, h, c, weights)
            _, context = attend(attention_kind, model.attention, h, memory, len(src))
        attentional = tanh(combine @ torch.cat([h, context]))
        feed = attentional
        logits.append(out_w @ attentional + out_b)
    return torch.stack(logits)
