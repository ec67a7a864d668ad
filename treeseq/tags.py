"""Tag schemes for chunks (BIO/IOB2, IOB1, BIOES): spans, conversion, repair and conlleval scoring.

Span reading follows conlleval's chunk rules, so every scheme (and any mix of prefixes) reads the
same way the reference Perl script reads it. The **repair rule** for invalid sequences is conlleval's:
an `I-X` (or `E-X`) that does not continue a chunk of type X starts a new chunk of type X, as if it
were `B-X`. `repair()` rewrites a sequence by exactly that rule, so evaluation of a repaired sequence
and of the raw one give the same spans. CRF decoding never needs it: `allowed_transitions()` gives the
masks that make invalid sequences impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor

from treeseq.errors import ConfigError

SCHEMES = ("bio", "iob1", "bioes")
OUTSIDE = "O"


@dataclass(frozen=True, order=True)
class Span:
    """A chunk: tokens [start, end) of type `label`."""

    start: int
    end: int
    label: str


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type): `B-LOC` -> ("B", "LOC"), `O` -> ("O", ""); a tag without a prefix is its own type."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, dash, label = tag.partition("-")
    if dash and prefix in ("B", "I", "E", "S") and label:
        return prefix, label
    return "I", tag  # conlleval reads a bare tag as inside a chunk of that type


def is_chunk_tag(tag: str) -> bool:
    """True for `O` and for prefixed tags `B-X`, `I-X`, `E-X`, `S-X`."""
    if tag == OUTSIDE:
        return True
    prefix, dash, label = tag.partition("-")
    return bool(dash and label) and prefix in ("B", "I", "E", "S")


def looks_like_chunks(tags: Iterable[str]) -> bool:
    """Whether a tag set reads as chunk tags (every tag O or prefixed) rather than plain classes (POS)."""
    seen = set(tags)
    return bool(seen) and all(is_chunk_tag(t) for t in seen) and any(t != OUTSIDE for t in seen)


def _ends(prev: str, prev_type: str, tag: str, tag_type: str) -> bool:
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I"):
        return tag in ("B", "S", OUTSIDE) or prev_type != tag_type
    return False


def _starts(prev: str, prev_type: str, tag: str, tag_type: str) -> bool:
    if tag in ("B", "S"):
        return True
    if tag in ("I", "E"):
        return prev in ("E", "S", OUTSIDE) or prev_type != tag_type
    return False


def spans(tags: Sequence[str]) -> list[Span]:
    """The chunks of a tag sequence in any scheme, read by conlleval's rules (see the module docstring)."""
    out: list[Span] = []
    prev, prev_type, start = OUTSIDE, "", -1
    for index, tag in enumerate(tags):
        prefix, label = split_tag(tag)
        if start >= 0 and _ends(prev, prev_type, prefix, label):
            out.append(Span(start, index, prev_type))
            start = -1
        if _starts(prev, prev_type, prefix, label):
            start = index
        prev, prev_type = prefix, label
    if start >= 0:
        out.append(Span(start, len(tags), prev_type))
    return out


def to_tags(chunks: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Write non-overlapping spans as a tag sequence of `length` tokens in `scheme`."""
    check_scheme(scheme)
    tags = [OUTSIDE] * length
    previous: Span | None = None
    for span in sorted(chunks):
        size = span.end - span.start
        if scheme == "bioes" and size == 1:
            tags[span.start] = f"S-{span.label}"
        else:
            for index in range(span.start, span.end):
                tags[index] = f"I-{span.label}"
            if scheme == "bio" or scheme == "bioes":
                tags[span.start] = f"B-{span.label}"
            elif previous is not None and previous.end == span.start and previous.label == span.label:
                tags[span.start] = f"B-{span.label}"  # IOB1: B- only separates adjacent chunks of one type
            if scheme == "bioes":
                tags[span.end - 1] = f"E-{span.label}"
        previous = span
    return tags


def convert(tags: Sequence[str], scheme: str) -> list[str]:
    """The same chunks written in `scheme` (the input may be in any scheme; invalid parts are repaired)."""
    return to_tags(spans(tags), len(tags), scheme)


def repair(tags: Sequence[str], scheme: str = "bio") -> list[str]:
    """A valid sequence in `scheme` with the chunks conlleval reads from `tags` (I- after O becomes B-)."""
    return convert(tags, scheme)


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    """Whether a sequence obeys the scheme's transition rules (what constrained decoding guarantees)."""
    labels = sorted(set(tags))
    start, trans, end = allowed_transitions(labels, scheme)
    ids = [labels.index(t) for t in tags]
    if not ids:
        return True
    ok = bool(start[ids[0]]) and bool(end[ids[-1]])
    return ok and all(bool(trans[a, b]) for a, b in zip(ids, ids[1:]))


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ConfigError(f"tag scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")


def _may_follow(prev: tuple[str, str] | None, tag: tuple[str, str], scheme: str) -> bool:
    """Whether `tag` may come after `prev` (None: sentence start) in a valid sequence of `scheme`."""
    prefix, label = tag
    prev_prefix, prev_label = prev if prev is not None else (OUTSIDE, "")
    continues = prev_prefix in ("B", "I") and prev_label == label
    if scheme == "bio":
        return prefix != "I" or continues
    if scheme == "iob1":
        # B-X only right after a chunk of type X; E-/S- do not exist in IOB1.
        return prefix in ("I", OUTSIDE) or (prefix == "B" and continues)
    if prefix in ("I", "E"):
        return continues
    return prev_prefix not in ("B", "I")  # B, S, O: the previous chunk must be closed


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """Masks (True: allowed) for constrained decoding: start (K,), transitions (K, K) from->to, end (K,).

    Tags that are not chunk tags (no prefix) are unconstrained.
    """
    check_scheme(scheme)
    parsed = [split_tag(t) if is_chunk_tag(t) else None for t in labels]
    size = len(labels)
    start, end = torch.ones(size, dtype=torch.bool), torch.ones(size, dtype=torch.bool)
    trans = torch.ones(size, size, dtype=torch.bool)
    for j, tag in enumerate(parsed):
        if tag is None:
            continue
        start[j] = _may_follow(None, tag, scheme)
        end[j] = not (scheme == "bioes" and tag[0] in ("B", "I"))
        for i, prev in enumerate(parsed):
            if prev is not None:
                trans[i, j] = _may_follow(prev, tag, scheme)
    return start, trans, end
