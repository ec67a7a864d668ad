from __future__ import annotations

import pytest
import torch
from forced_reference import forced_log_probs

from treeseq.decoding.beam import beam_search
from treeseq.decoding.greedy import greedy_search
from treeseq.decoding.seq2seq_inference import InferenceDecoder
from treeseq.models.seq2seq import Seq2Seq
from treeseq.nn.attention import ATTENTIONS

BOS, EOS = 2, 3


def model_and_sources(attention: str = "general") -> tuple[Seq2Seq, torch.Tensor, torch.Tensor]:
    torch.manual_seed(3)
    model = Seq2Seq(20, 12, embed_dim=8, hidden_size=8, attention=attention, dropout=0.0, input_feeding=attention == "dot").eval()
    with torch.no_grad():
        model.output.bias[EOS] -= 1.5  # longer outputs make the search non-trivial
    src = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 0, 0, 0], [12, 13, 14, 0, 0], [15, 0, 0, 0, 0]])
    return model, src, torch.tensor([5, 2, 3, 1])


def run_beam(model: Seq2Seq, src: torch.Tensor, lengths: torch.Tensor, k: int, n_best: int = 1, alpha: float = 0.0):
    with torch.no_grad():
        return beam_search(model.decode_step, model.encode(src, lengths), bos_id=BOS, eos_id=EOS, beam_size=k,
                           max_lens=lengths * 2 + 3, alpha=alpha, n_best=n_best, with_attention=True)  # fmt: skip


@pytest.mark.parametrize("attention", sorted(ATTENTIONS))
def test_beam_of_one_equals_greedy(attention: str) -> None:
    model, src, lengths = model_and_sources(attention)
    with torch.no_grad():
        greedy = greedy_search(model.decode_step, model.encode(src, lengths), bos_id=BOS, eos_id=EOS, max_lens=lengths * 2 + 3)
    beam = run_beam(model, src, lengths, 1)
    assert [h.tokens for h in greedy] == [b[0].tokens for b in beam]
    assert [h.log_prob for h in greedy] == pytest.approx([b[0].log_prob for b in beam], abs=1e-4)


def test_batched_beam_equals_one_sentence_at_a_time() -> None:
    model, src, lengths = model_and_sources()
    batched = run_beam(model, src, lengths, 4, n_best=3, alpha=0.6)
    for row in range(src.shape[0]):
        single = run_beam(model, src[row : row + 1, : int(lengths[row])], lengths[row : row + 1], 4, n_best=3, alpha=0.6)[0]
        assert [h.tokens for h in single] == [h.tokens for h in batched[row]]
        assert [h.score for h in single] == pytest.approx([h.score for h in batched[row]], abs=1e-4)


def test_n_best_is_sorted_and_matches_forced_decoding() -> None:
    model, src, lengths = model_and_sources()
    found = run_beam(model, src, lengths, 5, n_best=5, alpha=0.6)
    for row, hyps in enumerate(found):
        assert len(hyps) == 5 and [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        with torch.no_grad():
            state = model.encode(src[row : row + 1].expand(5, -1), lengths[row : row + 1].expand(5))
            forced = forced_log_probs(model.decode_step, state, [h.tokens for h in hyps], bos_id=BOS, eos_id=EOS)
            tgt = [h.tokens for h in hyps]
            width = max(map(len, tgt)) + 1
            tgt_in = torch.tensor([[BOS, *t] + [0] * (width - len(t) - 1) for t in tgt])
            tgt_out = torch.tensor([[*t, EOS] + [0] * (width - len(t) - 1) for t in tgt])
            fast = model.target_log_probs(src[row : row + 1].expand(5, -1), lengths[row : row + 1].expand(5), tgt_in, tgt_out)
        assert [h.log_prob for h in hyps] == pytest.approx(forced, abs=1e-4)
        assert [h.log_prob for h in hyps] == pytest.approx(fast.tolist(), abs=1e-4)


def test_hypothesis_attention_rows_sum_to_one_over_the_source() -> None:
    model, src, lengths = model_and_sources()
    for row, hyps in enumerate(run_beam(model, src, lengths, 3)):
        weights = hyps[0].attention
        assert weights.shape[0] == len(hyps[0].tokens) + 1
        assert torch.allclose(weights[:, : int(lengths[row])].sum(-1), torch.ones(weights.shape[0]), atol=1e-5)
        assert float(weights[:, int(lengths[row]) :].sum()) == 0.0


def test_output_budget_forces_eos() -> None:
    model, src, lengths = model_and_sources()
    with torch.no_grad():
        model.output.bias[EOS] -= 50  # never ends by itself
        found = beam_search(model.decode_step, model.encode(src, lengths), bos_id=BOS, eos_id=EOS, beam_size=3,
                            max_lens=torch.tensor([4, 2, 3, 1]))  # fmt: skip
    assert [len(h[0].tokens) for h in found] == [3, 1, 2, 0]


def test_finished_sentences_leave_the_batch() -> None:
    model, src, lengths = model_and_sources()
    rows: list[int] = []

    def step(prev, state):  # type: ignore[no-untyped-def]
        rows.append(prev.shape[0])
        return model.decode_step(prev, state)

    budgets = torch.tensor([4, 2, 3, 1])
    with torch.no_grad():
        model.output.bias[EOS] -= 50  # no sentence ends before its budget
        found = beam_search(step, model.encode(src, lengths), bos_id=BOS, eos_id=EOS, beam_size=3, max_lens=budgets)
        alone = [beam_search(model.decode_step, model.encode(src[i : i + 1], lengths[i : i + 1]), bos_id=BOS, eos_id=EOS,
                             beam_size=3, max_lens=budgets[i : i + 1])[0] for i in range(4)]  # fmt: skip
    assert rows == [4, 9, 6, 3]  # step 0 once per sentence, then K rows per sentence still searching
    assert [h[0].tokens for h in found] == [h[0].tokens for h in alone]


def test_sentences_that_join_a_running_search_get_the_same_hypotheses() -> None:
    model, src, lengths = model_and_sources()
    budgets = lengths * 2 + 3
    expected = run_beam(model, src, lengths, 3, n_best=2, alpha=0.6)
    asked: list[int] = []
    waiting = [2, 3, 1]

    def refill(free: int):  # type: ignore[no-untyped-def]
        asked.append(free)
        joining, waiting[:] = waiting[:free], waiting[free:]
        if not joining:
            return None
        index = torch.tensor(joining)
        width = int(lengths[index].max())
        return model.encode(src[index, :width], lengths[index]), budgets[index]

    with torch.no_grad():  # starts with sentence 0 alone (capacity 1): the others join one by one as it ends
        found = beam_search(model.decode_step, model.encode(src[:1], lengths[:1]), bos_id=BOS, eos_id=EOS, beam_size=3,
                            max_lens=budgets[:1], alpha=0.6, n_best=2, refill=refill)  # fmt: skip
    assert asked[0] == 1 and len(found) == 4
    for got, sentence in zip(found, [0, 2, 3, 1]):  # in the order they joined
        assert [h.tokens for h in got] == [h.tokens for h in expected[sentence]]
        assert [h.score for h in got] == pytest.approx([h.score for h in expected[sentence]], abs=1e-4)


def test_joining_sentences_with_longer_sources_pads_the_state() -> None:
    model, src, lengths = model_and_sources()
    decoder = InferenceDecoder(model)
    with torch.no_grad():
        short = model.encode(src[1:2, :2], lengths[1:2])
        long = model.encode(src[:1], lengths[:1])
        _, short, _ = decoder.decode_step(torch.tensor([BOS]), short)  # decoding projects the memory, then drops it
        assert short.memory is None and short.projected is not None
        _, long, _ = decoder.decode_step(torch.tensor([BOS]), long)
        merged = short.merge(long)
    assert merged.keys.shape[:2] == (2, 5) and merged.projected.shape[:2] == (2, 5)
    assert merged.mask.tolist() == [[True, True, False, False, False], [True] * 5]
    assert merged.hidden.shape[1] == 2 and merged.memory is None
    with pytest.raises(ValueError, match="refilling"):
        beam_search(decoder.decode_step, long, bos_id=BOS, eos_id=EOS, beam_size=2, max_lens=torch.tensor([4]),
                    with_attention=True, refill=lambda n: None)  # fmt: skip


def test_decode_ids_continuous_batch_equals_one_sentence_at_a_time() -> None:
    from treeseq.tasks.translator import DecodeConfig, decode_ids

    model, _, _ = model_and_sources()
    gen = torch.Generator().manual_seed(5)
    sources = [tuple(torch.randint(4, 20, (int(n),), generator=gen).tolist()) for n in torch.randint(1, 9, (23,), generator=gen)]
    cfg = DecodeConfig(beam_size=3, n_best=2)
    together = decode_ids(model, sources, cfg, max_tokens=3 * 20)  # capacity of a few sentences: many join later
    for source, hyps in zip(sources, together):
        alone = decode_ids(model, [source], cfg, max_tokens=3 * 20)[0]
        assert [h.tokens for h in hyps] == [h.tokens for h in alone]
        assert [h.score for h in hyps] == pytest.approx([h.score for h in alone], abs=1e-4)
