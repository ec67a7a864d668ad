from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.errors import ShapeError
from treeseq.nn.crf import CRF
from treeseq.tags import allowed_transitions, is_valid

BIO_LABELS = ["B-A", "B-B", "I-A", "I-B", "O"]


def random_crf(num_tags: int, constraints=None) -> CRF:
    crf = CRF(num_tags, constraints)
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_()
    return crf


def brute_force(crf: CRF, emissions: torch.Tensor, length: int) -> tuple[torch.Tensor, list[int], torch.Tensor]:
    """log Z, the best sequence and its score by enumerating every tag sequence of one sentence."""
    start, trans, end = crf._scores(hard=False)
    scores, paths = [], []
    for path in itertools.product(range(crf.num_tags), repeat=length):
        value = start[path[0]] + end[path[-1]] + sum(emissions[t, tag] for t, tag in enumerate(path))
        value = value + sum(trans[a, b] for a, b in zip(path, path[1:]))
        scores.append(value)
        paths.append(list(path))
    stacked = torch.stack(scores)
    best = int(stacked.argmax())
    return torch.logsumexp(stacked, 0), paths[best], stacked[best]


@pytest.mark.parametrize("constrained", [False, True])
def test_log_partition_and_viterbi_equal_enumeration(constrained: bool) -> None:
    torch.manual_seed(3)
    constraints = allowed_transitions(BIO_LABELS, "bio") if constrained else None
    crf = random_crf(len(BIO_LABELS), constraints)
    lengths = torch.tensor([4, 1, 3, 2])
    mask = torch.arange(4).unsqueeze(0) < lengths.unsqueeze(1)
    emissions = torch.randn(4, 4, len(BIO_LABELS)) * 2
    log_z = crf.log_partition(emissions, mask)
    best_tags, best_scores = crf.viterbi(emissions, mask)
    for row, length in enumerate(lengths.tolist()):
        want_z, want_path, want_score = brute_force(crf, emissions[row], length)
        torch.testing.assert_close(log_z[row], want_z, atol=1e-4, rtol=1e-5)
        assert best_tags[row, :length].tolist() == want_path
        assert best_tags[row, length:].eq(0).all()
        torch.testing.assert_close(best_scores[row], want_score, atol=1e-4, rtol=1e-5)
        path = best_tags[row : row + 1]
        torch.testing.assert_close(crf.sequence_score(emissions[row : row + 1], path, mask[row : row + 1])[0], want_score)


def test_likelihood_of_all_sequences_sums_to_one() -> None:
    torch.manual_seed(0)
    crf = random_crf(3)
    emissions = torch.randn(1, 3, 3)
    mask = torch.ones(1, 3, dtype=torch.bool)
    total = sum(
        torch.exp(-crf.neg_log_likelihood(emissions, torch.tensor([p]), mask))
        for p in itertools.product(range(3), repeat=3)
    )
    torch.testing.assert_close(total, torch.ones(1), atol=1e-5, rtol=1e-5)


def test_gradients_flow_and_shapes_are_checked() -> None:
    crf = random_crf(3)
    emissions = torch.randn(2, 5, 3, requires_grad=True)
    mask = torch.tensor([[True] * 5, [True] * 2 + [False] * 3])
    loss = crf.neg_log_likelihood(emissions, torch.randint(0, 3, (2, 5)), mask).sum()
    loss.backward()
    assert emissions.grad is not None and emissions.grad[1, 2:].abs().sum() == 0  # padding gets no gradient
    assert crf.transitions.grad is not None
    with pytest.raises(ShapeError):
        crf.log_partition(torch.randn(2, 5, 4), mask)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(-50, 50), min_size=5, max_size=5), min_size=1, max_size=7),
    st.sampled_from(["bio", "bioes", "iob1"]),
)
def test_constrained_decoding_never_emits_an_invalid_sequence(rows: list[list[float]], scheme: str) -> None:
    labels = {"bio": BIO_LABELS, "iob1": BIO_LABELS, "bioes": ["B-A", "E-A", "I-A", "O", "S-A"]}[scheme]
    crf = random_crf(len(labels), allowed_transitions(labels, scheme))
    emissions = torch.tensor(rows).unsqueeze(0)  # arbitrary, possibly huge emission scores
    tags, _ = crf.viterbi(emissions, torch.ones(1, len(rows), dtype=torch.bool))
    assert is_valid([labels[i] for i in tags[0].tolist()], scheme)


def test_a_forbidden_gold_path_costs_the_finite_penalty_and_keeps_gradients() -> None:
    """Constraints are -inf for decoding but a finite penalty inside the likelihood (so training on a
    sequence that breaks them still has gradients)."""
    from treeseq.nn.crf import PENALTY

    labels = ["B-A", "I-A", "O"]
    crf = CRF(3, allowed_transitions(labels, "bio"))  # zero scores: a path's score is its emissions + penalties
    emissions = torch.zeros(1, 2, 3, requires_grad=True)
    mask = torch.ones(1, 2, dtype=torch.bool)
    forbidden = torch.tensor([[2, 1]])  # O then I-A: one forbidden transition
    # allowed paths score 0: B-A then any of 3, O then B-A or O = 5; the others carry a penalty of -1e4,
    # so log Z = log 5 (to e^-10000) and -log p(forbidden) = log 5 - PENALTY
    assert crf.sequence_score(emissions, forbidden, mask).item() == PENALTY
    nll = crf.neg_log_likelihood(emissions, forbidden, mask)
    assert torch.isfinite(nll).all() and nll.item() == pytest.approx(-PENALTY + math.log(5), rel=1e-6)
    nll.sum().backward()
    assert torch.isfinite(emissions.grad).all() and emissions.grad.abs().sum() > 0
    tags, score = crf.viterbi(emissions.detach(), mask)
    assert is_valid([labels[i] for i in tags[0].tolist()], "bio") and score.item() == 0.0


def test_padded_positions_may_hold_any_tag_and_shapes_are_checked() -> None:
    crf = random_crf(3)
    emissions, mask = torch.randn(2, 4, 3), torch.tensor([[True] * 4, [True, True, False, False]])
    tags = torch.tensor([[0, 1, 2, 1], [2, 0, 1, 1]])
    padded = tags.clone()
    padded[1, 2:] = -1  # what the collate writes on padding
    torch.testing.assert_close(crf.sequence_score(emissions, padded, mask), crf.sequence_score(emissions, tags, mask))
    for bad_emissions, bad_mask in ((torch.randn(4, 3), mask), (torch.randn(2, 4, 2), mask), (emissions, mask[:, :3])):
        with pytest.raises(ShapeError, match="CRF: emissions"):
            crf.log_partition(bad_emissions, bad_mask)


def test_decoding_never_takes_a_forbidden_transition_however_large_the_emission() -> None:
    labels = ["B-A", "I-A", "O"]
    crf = CRF(3, allowed_transitions(labels, "bio"))
    emissions = torch.zeros(1, 2, 3)
    emissions[0, 0, 1] = 1e6  # I-A first: forbidden (a chunk cannot continue at the start)
    emissions[0, 1, 1] = 1e6
    tags, _ = crf.viterbi(emissions, torch.ones(1, 2, dtype=torch.bool))
    assert tags[0].tolist() == [0, 1]  # B-A, I-A: the best allowed path, not the penalised one


def test_an_unreachable_tag_adds_nothing_to_the_partition_even_with_a_huge_emission() -> None:
    """E-A without B-A or I-A (BIOES) can neither start nor follow anything: only O O is allowed, so log Z
    is 0 however strongly the emissions favour E-A (each step's stabiliser must follow the columns)."""
    crf = CRF(2, allowed_transitions(["E-A", "O"], "bioes"))
    emissions = torch.tensor([[[500.0, 0.0], [500.0, 0.0]]])
    log_z = crf.log_partition(emissions, torch.ones(1, 2, dtype=torch.bool))
    assert abs(log_z.item()) < 1e-3


def test_the_likelihood_stays_finite_when_every_sequence_breaks_the_constraints() -> None:
    crf = CRF(2, allowed_transitions(["B-A", "I-A"], "bioes"))  # nothing may end a sentence: no valid sequence
    emissions = torch.zeros(1, 1, 2, requires_grad=True)
    nll = crf.neg_log_likelihood(emissions, torch.tensor([[0]]), torch.ones(1, 1, dtype=torch.bool))
    assert torch.isfinite(nll).all()
    nll.sum().backward()
    assert torch.isfinite(emissions.grad).all()


def test_batched_path_scores_are_each_sentences_own_and_masks_have_full_shapes() -> None:
    crf = random_crf(3)
    emissions, mask = torch.randn(3, 4, 3), torch.tensor([[True] * 4, [True, True, False, False], [True, False, False, False]])
    tags = torch.tensor([[0, 1, 2, 1], [2, 0, 1, 1], [1, 1, 1, 1]])
    batched = crf.sequence_score(emissions, tags, mask)
    alone = torch.cat([crf.sequence_score(emissions[b : b + 1], tags[b : b + 1], mask[b : b + 1]) for b in range(3)])
    torch.testing.assert_close(batched, alone)
    assert not torch.allclose(batched, batched.flip(0))
    plain = CRF(4)
    assert plain.trans_ok.shape == (4, 4) and plain.start_ok.dtype == plain.trans_ok.dtype == plain.end_ok.dtype == torch.bool
    plain.load_state_dict(CRF(4, allowed_transitions(["B-A", "I-A", "O", "S-A"], "bioes")).state_dict())  # archives swap masks
