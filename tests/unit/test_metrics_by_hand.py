"""Every metric on a small case worked out by hand: the expected numbers are written here, with the
working in comments, never computed by the code under test."""

from __future__ import annotations

import math

import pytest
import torch

from treeseq.data.tagging import TaggedSentence
from treeseq.data.trees import TreeExample, batch_trees
from treeseq.metrics import bracket_scores, conlleval, translation_scores
from treeseq.tasks.lm import perplexity_metrics
from treeseq.tasks.tagger import Prediction, score
from treeseq.tasks.tree import LabelScheme, TreeModelConfig, evaluate_batches
from treeseq.trees import Tree

# ------------------------------------------------------------------ SST accuracies


def one_hot_probs(cls: int) -> list[float]:
    """0.6 on the class, 0.1 on the others."""
    return [0.6 if k == cls else 0.1 for k in range(5)]


class FixedScores(torch.nn.Module):
    """A 'model' that gives each node the class probabilities we chose, whatever the batch order."""

    def __init__(self, probs_in_tree_order: list[list[float]]) -> None:
        super().__init__()
        self.logits = torch.tensor(probs_in_tree_order).log()

    def forward(self, batch) -> torch.Tensor:  # type: ignore[no-untyped-def]
        out = torch.empty_like(self.logits)
        out[batch.order] = self.logits  # batch.order: the buffer row of each node in tree order
        return out


def test_sst_root_phrase_and_binary_accuracies_on_a_hand_scored_pair_of_trees() -> None:
    # Tree A, nodes in post-order: 0 "A", 1 "good", 2 "film", 3 "good film", 4 the root.
    # Tree B: 0 "dull", 1 "plot", 2 the root.
    tree_a = Tree.from_brackets("(3 (2 A) (4 (3 good) (2 film)))")
    tree_b = Tree.from_brackets("(1 (2 dull) (0 plot))")
    gold_a = (2, 3, -1, 4, 3)  # "film" unlabelled (-1): no part in any figure
    gold_b = (2, 0, 1)
    examples = [TreeExample(tree_a, (1, 2, 3), gold_a), TreeExample(tree_b, (4, 5), gold_b)]
    probs = [
        one_hot_probs(2), one_hot_probs(4), one_hot_probs(0), one_hot_probs(4), one_hot_probs(3),  # A
        one_hot_probs(1), one_hot_probs(3), [0.26, 0.26, 0.02, 0.3, 0.16],  # B: the root picks 3, but its mass leans negative
    ]  # fmt: skip
    report = evaluate_batches(FixedScores(probs), [batch_trees(examples)], LabelScheme(TreeModelConfig()))
    # Roots: A gold 3 pred 3 (right), B gold 1 pred 3 (wrong)                          -> root_acc 1/2
    # Labelled nodes: A "A" 2/2 ok, "good" 3/4 no, "good film" 4/4 ok, root ok;
    #                 B "dull" 2/1 no, "plot" 0/3 no, root 1/3 no                      -> phrase_acc 3/7
    # Binary (gold 2 dropped; pred positive when P(3)+P(4) > P(0)+P(1)):
    #   roots: A 3 -> pos, pred mass pos 0.7 > 0.2: ok; B 1 -> neg, 0.46 < 0.52: ok    -> root_binary_acc 2/2
    #   (by the argmax alone B's root would be positive: the mass, not the argmax, decides)
    #   nodes: "good" pos/pos ok, "good film" ok, A root ok, "plot" neg/pos no, B root ok -> phrase_binary_acc 4/5
    assert report.metrics == pytest.approx({"root_acc": 1 / 2, "phrase_acc": 3 / 7, "root_binary_acc": 1.0, "phrase_binary_acc": 4 / 5})
    # Root confusion counts[gold][pred]: (3, 3) and (1, 3).
    expected = [[0] * 5 for _ in range(5)]
    expected[3][3] = expected[1][3] = 1
    assert report.confusion == expected and report.sentences == 2


# ------------------------------------------------------------------ bracket scores


def test_bracket_scores_count_spans_of_two_or_more_tokens_without_the_whole_sentence() -> None:
    # The convention: unlabelled spans (i, j) with j - i >= 2, the sentence's own span (0, n) left out,
    # each span counted once; precision and recall summed over the corpus (not averaged per sentence).
    singles = [(i, i + 1) for i in range(5)]
    gold = [
        [(0, 5), (0, 2), (2, 5), (3, 5), *singles],  # counted: (0,2) (2,5) (3,5)
        [(0, 4), (0, 2), (2, 4)],  # counted: (0,2) (2,4)
        [(0, 2), (0, 1), (1, 2)],  # two tokens: nothing counted
    ]
    predicted = [
        [(0, 5), (0, 2), (2, 5), (2, 4), *singles, (0, 2)],  # counted: (0,2) (2,5) (2,4); (0,2) twice is once
        [(0, 4)],  # counted: nothing
        [(0, 2)],  # nothing
    ]
    scores = bracket_scores(predicted, gold, [5, 4, 2])
    # matched: (0,2) and (2,5) of sentence 1 = 2; predicted 3 + 0 + 0 = 3; gold 3 + 2 + 0 = 5
    # P = 2/3, R = 2/5, F1 = 2 P R / (P + R) = (8/15) / (16/15) = 1/2
    # exact: sentence 3 only (nothing to find, nothing found) -> 1/3
    assert scores == pytest.approx({"precision": 2 / 3, "recall": 2 / 5, "f1": 0.5, "exact": 1 / 3})


def test_bracket_scores_with_nothing_to_find_and_nothing_found_are_perfect() -> None:
    assert bracket_scores([[(0, 2)]], [[(0, 2)]], [2]) == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "exact": 1.0}


# ------------------------------------------------------------------ conlleval


def test_conlleval_chunk_scores_on_a_hand_scored_example() -> None:
    gold = [
        ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"],  # PER[0,2) LOC[3,4) ORG[5,7)
        ["O", "B-LOC"],  # LOC[1,2)
        ["O", "O"],
    ]
    predicted = [
        ["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "O"],  # PER[0,2) right; ORG[3,4) wrong; ORG[5,6) wrong bounds
        ["O", "I-LOC"],  # conlleval: I- after O opens a chunk, LOC[1,2): right
        ["B-MISC", "O"],  # MISC[0,1): spurious
    ]
    report = conlleval(gold, predicted)
    # gold chunks 4, predicted 5, correct 2 -> P 2/5, R 2/4, F1 = 2 (0.4)(0.5) / 0.9 = 4/9
    assert (report.overall.gold, report.overall.predicted, report.overall.correct) == (4, 5, 2)
    assert (report.overall.precision, report.overall.recall, report.overall.f1) == pytest.approx((0.4, 0.5, 4 / 9))
    # tokens: sentence 1 wrong at 3 and 6 (5 of 7), sentence 2 wrong at 1 (B-LOC vs I-LOC), sentence 3 at 0 -> 7 of 11
    assert report.accuracy == pytest.approx(7 / 11)
    by_type = {k: (v.gold, v.predicted, v.correct) for k, v in report.by_type.items()}
    assert by_type == {"PER": (1, 1, 1), "LOC": (2, 1, 1), "ORG": (1, 2, 0), "MISC": (0, 1, 0)}
    assert (report.by_type["LOC"].precision, report.by_type["LOC"].recall, report.by_type["LOC"].f1) == pytest.approx((1.0, 0.5, 2 / 3))


# ------------------------------------------------------------------ BLEU (sacrebleu, 13a tokens)


def test_bleu_on_hand_counted_n_grams() -> None:
    # hyp "the cat sat on the mat", ref "the cat sat on a mat" (6 tokens each: brevity penalty 1)
    # 1-grams: the(clipped to 1) cat sat on mat = 5/6; 2-grams: the cat, cat sat, sat on = 3/5;
    # 3-grams: the cat sat, cat sat on = 2/4; 4-grams: the cat sat on = 1/3
    # BLEU = (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = (1/12) ** (1/4) = 53.728...
    scores = translation_scores(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert scores["bleu"] == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-6)
    # Case: "The" does not match "the" in cased BLEU; lowercased BLEU sees the sentences as equal.
    # cased: 1-grams 5/6, 2-grams 4/5 (all but "The cat"), 3-grams 3/4, 4-grams 2/3 -> (1/3) ** (1/4)
    scores = translation_scores(["The cat sat on the mat"], ["the cat sat on the mat"])
    assert scores["bleu"] == pytest.approx(100 * (1 / 3) ** 0.25, abs=1e-6)
    assert scores["bleu_lc"] == pytest.approx(100.0) and scores["chrf"] < 100.0
    # Brevity: a 4-token hypothesis that is a prefix of a 6-token reference: every precision 1, BP = exp(1 - 6/4)
    scores = translation_scores(["the cat sat on"], ["the cat sat on the mat"])
    assert scores["bleu"] == pytest.approx(100 * math.exp(-0.5), abs=1e-6)
    assert "13a" in str(scores["bleu_signature"]) and "case:mixed" in str(scores["bleu_signature"])
    assert "case:lc" in str(scores["bleu_lc_signature"]) and "nc:6" in str(scores["chrf_signature"])  # chrF: 6-grams
    assert set(scores) == {"bleu", "bleu_lc", "chrf", "bleu_signature", "bleu_lc_signature", "chrf_signature"}


# ------------------------------------------------------------------ perplexity


def test_perplexity_and_bits_per_character_from_a_hand_summed_likelihood() -> None:
    # Four tokens predicted with probabilities 1/2, 1/4, 1/8, 1/2: NLL = (1 + 2 + 3 + 1) ln 2 = 7 ln 2 nats
    nll = -math.log(1 / 2) - math.log(1 / 4) - math.log(1 / 8) - math.log(1 / 2)
    words = perplexity_metrics(nll, 4, "word", characters=10)
    # perplexity = exp(NLL / 4) = 2 ** (7/4) = 3.3636; bits per character = 7 bits / 10 characters
    assert words == pytest.approx({"ppl": 2 ** 1.75, "nll": 7 * math.log(2) / 4, "bpc": 0.7})
    chars = perplexity_metrics(nll, 4, "char")
    assert chars["bpc"] == pytest.approx(7 / 4) and chars["ppl"] == pytest.approx(2 ** 1.75)
    assert "bpc" not in perplexity_metrics(nll, 4, "word")


# ------------------------------------------------------------------ slot F1, intent and frame accuracy


def test_slot_intent_and_frame_accuracy_on_hand_scored_sentences() -> None:
    sentences = [
        TaggedSentence(("from", "boston"), ("O", "B-from"), "flight"),
        TaggedSentence(("to", "new", "york"), ("O", "B-to", "I-to"), "flight"),
        TaggedSentence(("cheap", "fares"), ("O", "O"), "fare"),
        TaggedSentence(("at", "noon"), ("O", "I-time"), "flight"),  # I- after O: the chunk time[1,2) (conlleval)
    ]
    predictions = [
        Prediction(["O", "B-from"], [1.0, 1.0], "flight"),  # slots and intent right: frame right
        Prediction(["O", "B-to", "O"], [1.0] * 3, "flight"),  # to[1,2) for to[1,3): frame wrong
        Prediction(["O", "O"], [1.0, 1.0], "flight"),  # intent wrong: frame wrong
        Prediction(["O", "B-time"], [1.0, 1.0], "flight"),  # the same chunk written validly: frame right
    ]
    metrics = score(sentences, predictions, "nlu").metrics
    # chunks: gold from, to[1,3), time = 3; predicted from, to[1,2), time = 3; correct 2 -> P = R = F1 = 2/3
    # intents 3/4; frames 2/4; tokens (both read as BIO): 9, wrong only "york" -> 8/9
    assert metrics == pytest.approx({"acc": 8 / 9, "slot_p": 2 / 3, "slot_r": 2 / 3, "slot_f1": 2 / 3, "intent_acc": 3 / 4,
                                     "frame_acc": 1 / 2, "nlu_mean": (2 / 3 + 3 / 4) / 2})  # fmt: skip


# ------------------------------------------------------------------ the edges of the small metrics


def test_accuracy_confusion_and_class_scores_by_hand() -> None:
    from treeseq.metrics import accuracy, class_scores, confusion_matrix, corpus_bleu, f1_from_counts

    pred, gold = torch.tensor([0, 1, 1, 2, 2, 2]), torch.tensor([0, 1, 2, 2, 2, 0])
    assert accuracy(pred, gold) == pytest.approx(4 / 6) and math.isnan(accuracy(pred[:0], gold[:0]))
    assert accuracy(pred[:1], gold[:1]) == 1.0 and accuracy(pred[2:3], gold[2:3]) == 0.0
    # counts[gold][pred]: gold 0 -> pred 0, 2; gold 1 -> 1; gold 2 -> 1, 2, 2; class 3 never seen
    assert confusion_matrix(pred, gold, 4) == [[1, 0, 1, 0], [0, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]
    rows = class_scores(confusion_matrix(pred, gold, 4), ["a", "b", "c", "d"])
    # a: 1 hit, 1 predicted, 2 gold -> P 1, R 1/2, F1 2/3; b: 1/2 predicted right, 1/1 found -> F1 2/3;
    # c: 2 of 3 predicted, 2 of 3 found -> 2/3 each; d: nothing predicted or found -> zeros
    assert rows == [("a", 1.0, 0.5, pytest.approx(2 / 3), 2), ("b", 0.5, 1.0, pytest.approx(2 / 3), 1),
                    ("c", pytest.approx(2 / 3), pytest.approx(2 / 3), pytest.approx(2 / 3), 3), ("d", 0.0, 0.0, 0.0, 0)]  # fmt: skip
    # bracket counts: nothing matched of something found and something to find -> all zero, not a division error
    assert f1_from_counts(0, 3, 2) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert f1_from_counts(2, 4, 2) == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3)}
    assert corpus_bleu(["the cat sat on"], ["the cat sat on the mat"]) == pytest.approx(100 * math.exp(-0.5), abs=1e-6)


def test_chunk_scores_with_nothing_found_or_nothing_to_find_are_zero() -> None:
    report = conlleval([["O", "O"]], [["B-X", "O"]])  # one spurious chunk, none to find
    assert (report.overall.precision, report.overall.recall, report.overall.f1) == (0.0, 0.0, 0.0)
    assert report.accuracy == 0.5
    empty = conlleval([], [])
    assert (empty.accuracy, empty.overall.precision, empty.overall.recall, empty.overall.f1) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="2 predicted tags for 1 gold tags"):
        conlleval([["O"]], [["O", "O"]])
    with pytest.raises(ValueError):  # a sentence without predictions is an error, not a sentence left out
        conlleval([["O"], ["B-X"]], [["O"]])
