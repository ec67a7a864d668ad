"""Write the tagging samples (deterministic): `python -m treeseq.corpora.samples.make_tagging_samples`.

pos/: a tiny UD-style treebank (`sample-ud-{train,dev,test}.conllu`) from a toy English grammar, with
comments, multiword-token ranges ("don't" = do + n't) and an empty node, as real UD files have.
nlu/: a tiny ATIS-style folder (`train/`, `valid/`, `test/`, each `seq.in`, `seq.out`, `label`) with
flight, airfare and ground-service requests and multi-word city slots.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

DETS = ("the", "a", "this")
NOUNS = ("cat", "dog", "plan", "flight", "report", "house")
ADJS = ("big", "old", "quiet", "red")
VERBS = ("saw", "likes", "found", "wanted")
NAMES = ("Anna", "Boston", "Google", "Maria")
PREPS = ("in", "on", "near")
PRONS = ("she", "they", "he")


def _noun_phrase(rng: random.Random) -> list[tuple[str, str, str]]:
    if rng.random() < 0.25:
        return [(rng.choice(NAMES), "PROPN", "NNP")]
    words = [(rng.choice(DETS), "DET", "DT")]
    if rng.random() < 0.4:
        words.append((rng.choice(ADJS), "ADJ", "JJ"))
    return words + [(rng.choice(NOUNS), "NOUN", "NN")]


def pos_sentence(rng: random.Random) -> tuple[list[tuple[str, str, str]], bool]:
    """(words as (form, UPOS, XPOS), whether the sentence uses "don't") for one toy sentence."""
    subject = [(rng.choice(PRONS), "PRON", "PRP")] if rng.random() < 0.4 else _noun_phrase(rng)
    negated = rng.random() < 0.3
    verb = [("do", "AUX", "VBP"), ("n't", "PART", "RB"), ("like", "VERB", "VB")] if negated else [(rng.choice(VERBS), "VERB", "VBD")]
    words = subject + verb + _noun_phrase(rng)
    if rng.random() < 0.4:
        words += [(rng.choice(PREPS), "ADP", "IN")] + _noun_phrase(rng)
    words[0] = (words[0][0].capitalize(), *words[0][1:])
    return words + [(".", "PUNCT", ".")], negated


def conllu_block(sent_id: str, words: list[tuple[str, str, str]], negated: bool, empty_node: bool) -> str:
    text = " ".join(w for w, _, _ in words).replace("do n't", "don't").replace(" .", ".")
    lines = [f"# sent_id = {sent_id}", f"# text = {text}"]
    root = next(i for i, (_, upos, _) in enumerate(words, start=1) if upos == "VERB")
    for index, (form, upos, xpos) in enumerate(words, start=1):
        if negated and form == "do":
            lines.append(f"{index}-{index + 1}\tdon't\t_\t_\t_\t_\t_\t_\t_\t_")
        head, rel = (0, "root") if index == root else (root, "dep")
        lines.append(f"{index}\t{form}\t{form.lower()}\t{upos}\t{xpos}\t_\t{head}\t{rel}\t{head}:{rel}\t_")
        if empty_node and index == 1:
            lines.append("1.1\tdid\tdo\tVERB\tVBD\t_\t_\t_\t0:root\tCopyOf=2")
    return "\n".join(lines) + "\n\n"


def write_pos(folder: Path, seed: int = 7) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 80), ("dev", 20), ("test", 20)):
        blocks = []
        for number in range(1, count + 1):
            words, negated = pos_sentence(rng)
            blocks.append(conllu_block(f"{split}-{number}", words, negated, empty_node=number == 3))
        (folder / f"sample-ud-{split}.conllu").write_text("".join(blocks), encoding="utf-8")


CITIES = ("boston", "denver", "new york", "san francisco", "dallas", "salt lake city", "atlanta")
DAYS = ("monday", "friday", "sunday")
RELATIVE = ("tomorrow", "today")
PERIODS = ("morning", "evening")


def _slot(words: str, slot: str) -> list[tuple[str, str]]:
    tokens = words.split()
    return [(t, ("B-" if i == 0 else "I-") + slot) for i, t in enumerate(tokens)]


def _plain(words: str) -> list[tuple[str, str]]:
    return [(t, "O") for t in words.split()]


def nlu_sentence(rng: random.Random) -> tuple[list[tuple[str, str]], str]:
    """(tokens with BIO slot tags, intent) for one toy request."""
    origin, destination = rng.sample(CITIES, 2)
    route = _plain("from") + _slot(origin, "fromloc.city_name") + _plain("to") + _slot(destination, "toloc.city_name")
    intent = rng.choice(("atis_flight", "atis_flight", "atis_airfare", "atis_ground_service"))
    if intent == "atis_ground_service":
        return _plain(rng.choice(("what ground transportation is available in", "ground transportation in"))) + _slot(
            rng.choice(CITIES), "city_name"), intent  # fmt: skip
    head = _plain(rng.choice(("show me flights", "i want to fly", "list flights")) if intent == "atis_flight"
                  else rng.choice(("how much is a flight", "what is the fare")))  # fmt: skip
    tail: list[tuple[str, str]] = []
    if rng.random() < 0.5:
        tail = _slot(rng.choice(RELATIVE), "depart_date.today_relative")
    elif rng.random() < 0.6:
        tail = _plain("on") + _slot(rng.choice(DAYS), "depart_date.day_name")
    if rng.random() < 0.3:
        tail += _plain("in the") + _slot(rng.choice(PERIODS), "depart_time.period_of_day")
    return head + route + tail, intent


def write_nlu(folder: Path, seed: int = 11) -> None:
    rng = random.Random(seed)
    for split, count in (("train", 150), ("valid", 40), ("test", 40)):
        target = folder / split
        target.mkdir(parents=True, exist_ok=True)
        rows = [nlu_sentence(rng) for _ in range(count)]
        (target / "seq.in").write_text("".join(" ".join(t for t, _ in r) + "\n" for r, _ in rows), encoding="utf-8")
        (target / "seq.out").write_text("".join(" ".join(g for _, g in r) + "\n" for r, _ in rows), encoding="utf-8")
        (target / "label").write_text("".join(f"{intent}\n" for _, intent in rows), encoding="utf-8")


def write_tagging_samples() -> None:
    write_pos(HERE / "pos")
    write_nlu(HERE / "nlu")


if __name__ == "__main__":
    write_tagging_samples()
