"""The one batcher every family uses: properties over random lengths, budgets and seeds."""

from __future__ import annotations

import random

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.data.batching import budget_batches, length_mask, pooled_batches

LENGTHS = st.lists(st.integers(1, 60), min_size=0, max_size=200)


@settings(max_examples=60, deadline=None)
@given(LENGTHS, st.integers(1, 500), st.one_of(st.none(), st.integers(1, 20)), st.one_of(st.none(), st.integers(0, 9)))
def test_budget_batches_partition_and_respect_the_budget(lengths: list[int], budget: int, max_items: int | None,
                                                        seed: int | None) -> None:  # fmt: skip
    rng = None if seed is None else random.Random(seed)
    costs = [n + 1 for n in lengths]
    batches = budget_batches(lengths, costs, budget, rng=rng, max_items=max_items)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every index once
    for batch in batches:
        assert batch and (len(batch) == 1 or len(batch) * max(costs[i] for i in batch) <= budget)
        assert max_items is None or len(batch) <= max_items
        assert [lengths[i] for i in batch] == sorted(lengths[i] for i in batch)  # similar lengths together
    if rng is None:  # prediction: batches in key order
        flat = [lengths[i] for b in batches for i in b]
        assert flat == sorted(flat)
    else:
        assert batches == budget_batches(lengths, costs, budget, rng=random.Random(seed), max_items=max_items)


@settings(max_examples=60, deadline=None)
@given(LENGTHS, st.integers(1, 16), st.integers(0, 9), st.booleans())
def test_pooled_batches_are_a_function_of_the_seed(lengths: list[int], size: int, seed: int, by_length: bool) -> None:
    key = lengths.__getitem__ if by_length else None
    batches = pooled_batches(len(lengths), size, random.Random(seed), key, pool=3)
    assert batches == pooled_batches(len(lengths), size, random.Random(seed), key, pool=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(1 <= len(b) <= size for b in batches) and sum(len(b) < size for b in batches) <= max(1, len(lengths) // (3 * size) + 1)
    if by_length:
        assert all([lengths[i] for i in b] == sorted(lengths[i] for i in b) for b in batches)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=8), st.integers(0, 4))
def test_length_mask_marks_each_rows_first_positions(lengths: list[int], extra: int) -> None:
    width = max(lengths) + extra
    mask = length_mask(torch.tensor(lengths), width)
    assert mask.dtype == torch.bool and mask.shape == (len(lengths), width)
    assert mask.tolist() == [[position < n for position in range(width)] for n in lengths]


def test_budget_batches_fill_each_batch_up_to_the_budget_by_hand() -> None:
    keys = costs = [3, 1, 2, 1]  # key order: indices 1, 3 (cost 1), 2 (cost 2), 0 (cost 3)
    # budget 4: [1, 3] costs 2 x 1; adding 2 would cost 3 x 2 = 6 > 4; [2] then 2 x 3 = 6 > 4; [0]
    assert budget_batches(keys, costs, 4) == [[1, 3], [2], [0]]
    # budget 6: [1, 3, 2] costs exactly 3 x 2 = 6 (the budget itself is allowed); adding 0 would cost 4 x 3
    assert budget_batches(keys, costs, 6) == [[1, 3, 2], [0]]
    assert budget_batches(keys, costs, max_items=2) == [[1, 3], [2, 0]]
    assert budget_batches(keys, costs, 2) == [[1, 3], [2], [0]]  # an item over the budget alone
    # costs below one (a batch's padded cost is items x largest cost, from nothing): 2 x 0.5 fits 1.0, 3 x 0.5 does not
    assert budget_batches([1, 1, 1], [0.5, 0.5, 0.5], 1.0) == [[0, 1], [2]]


def test_training_batches_break_ties_at_random_and_come_in_shuffled_order() -> None:
    keys, costs = [5] * 8, [1] * 8
    groupings = {frozenset(map(tuple, budget_batches(keys, costs, 2, rng=random.Random(seed)))) for seed in range(6)}
    assert len(groupings) > 1  # equal keys: which items share a batch depends on the stream, not only the order
    ordered = list(range(1, 13))
    orders = [[b[0] for b in budget_batches(ordered, ordered, 12, rng=random.Random(seed))] for seed in range(6)]
    assert any(order != sorted(order) for order in orders)  # the batch order is shuffled


def test_pooled_batches_without_a_key_are_runs_of_the_shuffled_indices() -> None:
    order = list(range(10))
    random.Random(7).shuffle(order)
    assert pooled_batches(10, 4, random.Random(7)) == [order[0:4], order[4:8], order[8:10]]
    by_key = pooled_batches(10, 2, random.Random(7), key=lambda i: -i, pool=100)  # one pool: sorted, then shuffled
    assert sorted(by_key) == [[1, 0], [3, 2], [5, 4], [7, 6], [9, 8]]  # neighbours by key share a batch
    assert by_key != [[9, 8], [7, 6], [5, 4], [3, 2], [1, 0]]  # the batches are shuffled too


def test_pooled_batches_sort_within_pools_of_fifty_batches_by_default() -> None:
    count, size, key = 240, 2, (lambda i: i % 7)
    rng = random.Random(3)
    order = list(range(count))
    rng.shuffle(order)
    span = size * 50  # a pool: fifty batches' worth of the shuffled indices, sorted by key
    order = [i for start in range(0, count, span) for i in sorted(order[start : start + span], key=key)]
    expected = [order[start : start + size] for start in range(0, count, size)]
    rng.shuffle(expected)
    assert pooled_batches(count, size, random.Random(3), key) == expected
