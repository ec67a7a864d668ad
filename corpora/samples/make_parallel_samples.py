"""Write the toy German->English sample in corpora/samples/parallel/ (train/val/test .de and .en).

A small phrase grammar with fixed word translations (numbers, colours, animals, verbs, places), so a
tiny model can learn it in seconds; German umlauts and ß exercise the subword model's byte fallback.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUMBERS = [("ein", "one"), ("zwei", "two"), ("drei", "three"), ("vier", "four"), ("fünf", "five")]
COLOURS = [("rote", "red"), ("blaue", "blue"), ("große", "big"), ("kleine", "small"), ("weiße", "white")]
ANIMALS = [("hund", "dog"), ("katze", "cat"), ("vogel", "bird"), ("pferd", "horse"), ("fisch", "fish")]
VERBS = [("läuft", "runs"), ("schläft", "sleeps"), ("springt", "jumps"), ("frisst", "eats"), ("spielt", "plays")]
PLACES = [("im park", "in the park"), ("am fluss", "by the river"), ("auf der straße", "on the street"), ("", "")]


def pair(rng: random.Random) -> tuple[str, str]:
    (n_de, n_en), (c_de, c_en), (a_de, a_en), (v_de, v_en), (p_de, p_en) = (
        rng.choice(NUMBERS), rng.choice(COLOURS), rng.choice(ANIMALS), rng.choice(VERBS), rng.choice(PLACES),
    )  # fmt: skip
    german = " ".join(w for w in (n_de, c_de, a_de, v_de, p_de) if w) + " ."
    english = " ".join(w for w in (n_en, c_en, a_en, v_en, p_en) if w) + " ."
    return german.capitalize(), english.capitalize()


def write_parallel(folder: Path = HERE / "parallel", seed: int = 5) -> None:
    rng = random.Random(seed)
    seen: dict[str, str] = {}
    while len(seen) < 500:
        german, english = pair(rng)
        seen.setdefault(german, english)
    items = list(seen.items())
    folder.mkdir(parents=True, exist_ok=True)
    for name, chunk in (("train", items[:400]), ("val", items[400:450]), ("test", items[450:])):
        (folder / f"{name}.de").write_text("".join(de + "\n" for de, _ in chunk), encoding="utf-8")
        (folder / f"{name}.en").write_text("".join(en + "\n" for _, en in chunk), encoding="utf-8")


if __name__ == "__main__":
    write_parallel()
