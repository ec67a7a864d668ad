"""Raw text to treebank tokens: spaCy's rule-based English tokenizer, adjusted to PTB/SST conventions.

The tree models and the parser were trained on treebank tokens, so raw text must be cut the same way:
`n't`, `'s` and friends split off (spaCy does this), hyphenated words and `a/b` kept whole (spaCy
splits them; SST does not), brackets written `-LRB-`/`-RRB-`, double quotes as `` `` `` and `''`, an
opening single quote as `` ` ``, `/` and `*` escaped as `\\/` and `\\*`, `…` as `...`.
`detokenize` goes the other way, for checks (docs/experiments/parsing.md) and for evaluation from raw text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any, Sequence

_TOKEN_MAP = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-",
              "“": "``", "”": "''", "‘": "`", "…": "...", "—": "--", "–": "--"}  # fmt: skip
_RAW_MAP = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}", "``": '"', "''": '"'}
_NO_SPACE_BEFORE = {".", ",", "!", "?", ":", ";", "...", ")", "]", "}", "''", "%", "n't", "'s", "'re", "'ve", "'ll",
                    "'d", "'m", "'", "'S", "N'T"}  # fmt: skip
_NO_SPACE_AFTER = {"(", "[", "{", "-LRB-", "-LSB-", "-LCB-", "``", "`", "$"}
_DECADE = re.compile(r"\d0s")  # '70s is one token


@lru_cache(maxsize=1)
def _spacy_tokenizer() -> Any:
    import spacy
    from spacy.util import compile_infix_regex

    nlp = spacy.blank("en")
    infixes = []
    for pattern in nlp.Defaults.infixes:
        if re.search(pattern, "well-acted"):  # the letter-hyphen-letter rule: SST keeps such words whole
            continue
        infixes.append(pattern.replace("[:<>=/]", "[:<>=]"))  # keep `writer/director` whole too
    infixes.append(r"--+|—|–")
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    return nlp.tokenizer


def clean_text(text: str) -> str:
    """Control and format characters removed (tabs and line breaks become spaces); curly apostrophes made plain."""
    return _clean_with_positions(text)[0]


def _clean_with_positions(text: str) -> tuple[str, list[int]]:
    """`clean_text` and, for each character kept, its index in `text` (plus one entry for the end)."""
    out: list[str] = []
    positions: list[int] = []
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if char in "\t\n\r\v\f":
            out.append(" ")
        elif category not in ("Cc", "Cf", "Cs", "Co"):
            out.append("'" if char == "’" else char)
        else:
            continue
        positions.append(index)
    positions.append(len(text))
    return "".join(out), positions


def tokenize(text: str) -> list[str]:
    """Treebank tokens of one sentence of raw text (empty for blank text)."""
    return tokenize_with_offsets(text)[0]


def tokenize_with_offsets(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Treebank tokens of one sentence and each token's character span [start, end) in `text`."""
    cleaned, positions = _clean_with_positions(text)
    doc = _spacy_tokenizer()(cleaned)
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    skip = -1
    opened_before = True  # at the start of the text, or after whitespace / an opening bracket
    for index, token in enumerate(doc):
        word = token.text
        if index == skip:
            continue
        if word.isspace() or not word:
            opened_before = True
            continue
        start, end = token.idx, token.idx + len(token.text)
        glued_next = not token.whitespace_ and index + 1 < len(doc)
        if word == '"':
            word = "``" if opened_before else "''"
        elif word == "'" and opened_before and glued_next and _DECADE.fullmatch(doc[index + 1].text):
            following = doc[index + 1]
            tokens.append("'" + following.text)
            spans.append((positions[start], positions[following.idx + len(following.text) - 1] + 1))
            skip = index + 1
            opened_before = bool(following.whitespace_)
            continue
        elif word == "'" and opened_before and glued_next:
            word = "`"
        else:
            word = _TOKEN_MAP.get(word, word).replace("/", "\\/").replace("*", "\\*")
        tokens.append(word)
        spans.append((positions[start], positions[end - 1] + 1))
        opened_before = bool(token.whitespace_) or word in ("-LRB-", "-LSB-", "-LCB-", "``", "`")
    return tokens, spans


def raw_form(token: str) -> str:
    """A treebank token as it appears in running text (`-LRB-` -> `(`, `\\/` -> `/`, `` `` `` -> `"`)."""
    if token == "`":
        return "'"
    return _RAW_MAP.get(token, token.replace("\\/", "/").replace("\\*", "*"))


def detokenize(tokens: Sequence[str]) -> str:
    """Treebank tokens back to plausible raw text (`ca n't` -> `can't`, `-LRB- a -RRB-` -> `(a)`)."""
    out: list[str] = []
    glue = True
    for token in tokens:
        raw = raw_form(token)
        if out and not glue and token not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append(raw)
        glue = token in _NO_SPACE_AFTER
    return "".join(out)


@lru_cache(maxsize=1)
def _blank_tokenizer() -> Any:
    import spacy  # noqa: PLC0415 (spaCy is loaded only for raw text)

    return spacy.blank("en").tokenizer


def blank_tokens(texts: Sequence[str]) -> list[tuple[list[str], list[tuple[int, int]]]]:
    """Tokens and their character offsets [start, end) for each text, by spaCy's blank English tokenizer
    (the taggers' tokenization of raw text; not the treebank conventions of `tokenize`)."""
    out = []
    for doc in _blank_tokenizer().pipe(texts, batch_size=256):
        kept = [t for t in doc if not t.is_space]
        out.append(([t.text for t in kept], [(t.idx, t.idx + len(t.text)) for t in kept]))
    return out


def whitespace_tokens(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Tokens split on whitespace, with their character offsets."""
    tokens, offsets, position = [], [], 0
    for token in text.split():
        start = text.index(token, position)
        position = start + len(token)
        tokens.append(token)
        offsets.append((start, position))
    return tokens, offsets
