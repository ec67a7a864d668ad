"""Public corpora the toolkit knows how to fetch: one row of data per corpus, no classes per corpus.

Each `CorpusSpec` says where the files live upstream, which checksums they must have, where they go
inside the corpus folder (`<cache>/<name>`), and which folder to pass as `--data-dir`. A sha256 of
None means "not known yet": the downloader then prints the computed digest instead of checking it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal, get_args
from urllib.parse import urlsplit

from treeseq.errors import ConfigError

CorpusFormat = Literal["ptb-trees", "parallel-text", "plain-text", "atis-folders", "conllu"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_URL_SCHEMES = ("https", "http", "file")  # http and file only for mirrors and tests; see with_mirror


def _check_sha256(sha256: str | None, where: str) -> None:
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise ConfigError(f"{where}: sha256 must be 64 lowercase hex digits or None, got {sha256!r}")


def _check_target(target: str, where: str) -> None:
    # Targets come from this registry, never from an archive, so they are the only paths we write.
    path = PurePosixPath(target)
    if not target or path.is_absolute() or ".." in path.parts or "\\" in target:
        raise ConfigError(f"{where}: target must be a relative path inside the corpus folder, got {target!r}")


@dataclass(frozen=True)
class MemberSpec:
    """One file to take out of a downloaded archive.

    Attributes:
        member: the member's path inside the archive.
        target: where it goes, relative to the corpus folder.
        sha256: the extracted file's expected digest, or None when unknown.
    """

    member: str
    target: str
    sha256: str | None = None

    def __post_init__(self) -> None:
        _check_target(self.target, f"archive member {self.member!r}")
        _check_sha256(self.sha256, f"archive member {self.member!r}")


@dataclass(frozen=True)
class FileSpec:
    """One URL to download.

    Attributes:
        url: where the file lives upstream.
        target: the path inside the corpus folder; for an archive, the name of the temporary
            download (the archive itself is not kept, only its `members`).
        sha256: the expected digest of the downloaded bytes, or None when unknown.
        members: for a zip archive, the members to extract; empty for a plain file.
    """

    url: str
    target: str
    sha256: str | None = None
    members: tuple[MemberSpec, ...] = ()

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in _URL_SCHEMES or not parts.path.strip("/"):
            raise ConfigError(f"{self.url!r}: expected an https URL naming a file")
        _check_target(self.target, self.url)
        _check_sha256(self.sha256, self.url)

    @property
    def is_archive(self) -> bool:
        """Whether the download is an archive whose members are extracted."""
        return bool(self.members)

    @property
    def outputs(self) -> tuple[tuple[str, str | None], ...]:
        """The (target, sha256) pairs this download leaves in the corpus folder."""
        if self.members:
            return tuple((m.target, m.sha256) for m in self.members)
        return ((self.target, self.sha256),)


@dataclass(frozen=True)
class CorpusSpec:
    """Everything known about one public corpus: provenance, licence, files and folder layout."""

    name: str
    description: str
    licence: str
    format: CorpusFormat
    citation: str
    homepage: str
    splits: tuple[str, ...]
    files: tuple[FileSpec, ...]
    layout_note: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.name):
            raise ConfigError(f"corpus name {self.name!r}: expected lowercase letters, digits and '-'")
        if self.format not in get_args(CorpusFormat):
            raise ConfigError(f"corpus {self.name}: format {self.format!r} is not one of {get_args(CorpusFormat)}")
        if not self.files or not self.splits:
            raise ConfigError(f"corpus {self.name}: needs at least one file and one split")
        targets = [target for target, _ in self.outputs]
        duplicates = sorted({t for t in targets if targets.count(t) > 1})
        if duplicates:
            raise ConfigError(f"corpus {self.name}: duplicate targets {', '.join(duplicates)}")

    @property
    def outputs(self) -> tuple[tuple[str, str | None], ...]:
        """Every (target, sha256) pair the corpus folder holds once downloaded."""
        return tuple(pair for spec in self.files for pair in spec.outputs)

    @property
    def targets(self) -> tuple[str, ...]:
        """The file names (relative to the corpus folder) a complete download leaves."""
        return tuple(target for target, _ in self.outputs)


def _sst() -> CorpusSpec:
    trees = {
        "train": "e2f3f41b0b1e6d4dddc0effe3bfc2d27ed8928079aa9a03d652311614fc5feb7",
        "dev": "0e9336aed6e4730e19f58d00a77b3f0297efdb755f7b5e598c98a05e3f97ea40",
        "test": None,
    }
    return CorpusSpec(
        name="sst",
        description="Stanford Sentiment Treebank: 11,855 movie-review sentences as binary trees, "
        "a sentiment label 0-4 on every node",
        licence="research release (Socher et al. 2013); no explicit licence",
        format="ptb-trees",
        citation="Richard Socher, Alex Perelygin, Jean Wu, Jason Chuang, Christopher D. Manning, Andrew Ng "
        "and Christopher Potts. 2013. Recursive Deep Models for Semantic Compositionality Over a "
        "Sentiment Treebank. EMNLP.",
        homepage="https://nlp.stanford.edu/sentiment/",
        splits=("train", "dev", "test"),
        files=(
            FileSpec(
                url="https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip",
                target="trainDevTestTrees_PTB.zip",
                members=tuple(MemberSpec(f"trees/{split}.txt", f"{split}.txt", sha) for split, sha in trees.items()),
            ),
        ),
        layout_note="one folder with train.txt, dev.txt, test.txt (one bracketed tree a line); "
        "pass it as --data-dir to the tree tasks (treeseq train tree, treeseq train parser)",
    )


_MULTI30K_URL = "https://github.com/multi30k/dataset/raw/master/data/task1/raw/"
_MULTI30K_SHA = {
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
}


def _multi30k() -> CorpusSpec:
    names = [f"{split}.{lang}.gz" for split in ("train", "val", "test_2016_flickr") for lang in ("de", "en")]
    return CorpusSpec(
        name="multi30k",
        description="Multi30k task 1: Flickr30k image descriptions in German and English, raw cased text, "
        "line-aligned (29,000 train / 1,014 val / 1,000 test pairs)",
        licence="research and non-commercial use only (Flickr30k terms of use)",
        format="parallel-text",
        citation="Desmond Elliott, Stella Frank, Khalil Sima'an and Lucia Specia. 2016. Multi30K: "
        "Multilingual English-German Image Descriptions. Proceedings of the 5th Workshop on Vision "
        "and Language.",
        homepage="https://github.com/multi30k/dataset",
        splits=("train", "val", "test_2016_flickr"),
        files=tuple(FileSpec(_MULTI30K_URL + name, name, _MULTI30K_SHA.get(name)) for name in names),
        layout_note="one folder with <split>.de.gz and <split>.en.gz (gzip, one sentence a line, "
        "line-aligned); pass it as --data-dir to treeseq train translator",
    )


def _multi30k_en() -> CorpusSpec:
    """The English side of the multi30k download as a language-modelling corpus: the same files (same
    URLs and checksums) under the names `treeseq train lm` reads."""
    base = _multi30k()
    names = {"train": "train.en.gz", "dev": "val.en.gz", "test": "test_2016_flickr.en.gz"}
    return CorpusSpec(
        name="multi30k-en",
        description="the English side of Multi30k task 1 (a view of the multi30k download) as a "
        "language-modelling corpus: raw cased text, one sentence a line (29,000 train / 1,014 dev / 1,000 test)",
        licence=base.licence,
        format="plain-text",
        citation=base.citation,
        homepage=base.homepage,
        splits=("train", "dev", "test"),
        files=tuple(FileSpec(_MULTI30K_URL + name, f"{split}.txt.gz", _MULTI30K_SHA.get(name)) for split, name in names.items()),
        layout_note="one folder with train.txt.gz, dev.txt.gz and test.txt.gz (multi30k's train.en.gz, val.en.gz "
        "and test_2016_flickr.en.gz); pass it as --data-dir to treeseq train lm",
    )


_SLOT_GATED_URL = "https://raw.githubusercontent.com/MiuLab/SlotGated-SLU/master/data/"
_ATIS_SHA = {
    "train/label": "d0a771547665eecbdf9f96ea015ef07d1f6ee9f063e861020dafabb3c2a04377",
    "train/seq.in": "3a670980841b21ab39088b2595efc17d487cdc45769c075a3e5f9458bba28c7f",
    "train/seq.out": "14c7131bd66562f797dbd7189bc7358f0cf354c6afb0785a9ab973c35b58f34c",
    "valid/label": "06957cfe6fdffac84f8280bc3a1f8ca85c85631b363817aa4543aac611f8addf",
    "valid/seq.in": "c7435b96e7948393608c34819628e863c5338f11ca68e8f896d2cc041d8e17f8",
    "valid/seq.out": "83ccff3e36f83a993f8e5b5b82adf3256076f234abda4d784051381d7ac76922",
}
_SLOT_GATED_CITATION = (
    "Chih-Wen Goo, Guang Gao, Yun-Kai Hsu, Chih-Li Huo, Tsung-Chieh Chen, Keng-Wei Hsu and Yun-Nung Chen. "
    "2018. Slot-Gated Modeling for Joint Slot Filling and Intent Prediction. NAACL."
)


def _slot_gated_files(corpus: str, checksums: dict[str, str]) -> tuple[FileSpec, ...]:
    """The SlotGated-SLU layout: `<split>/{seq.in,seq.out,label}` for train, valid and test."""
    targets = [f"{split}/{name}" for split in ("train", "valid", "test") for name in ("seq.in", "seq.out", "label")]
    return tuple(FileSpec(f"{_SLOT_GATED_URL}{corpus}/{t}", t, checksums.get(t)) for t in targets)


def _slot_gated_layout(corpus: str) -> str:
    return (
        f"one folder with train/, valid/, test/, each holding seq.in (tokens), seq.out (BIO slot tags) "
        f"and label (one intent a line); pass it as --data-dir to treeseq train tagger ({corpus})"
    )


def _atis() -> CorpusSpec:
    return CorpusSpec(
        name="atis",
        description="ATIS airline-travel queries for joint intent detection and slot filling, "
        "in the split of Goo et al. 2018 (4,478 train / 500 valid / 893 test)",
        licence="ATIS is LDC material (LDC93S5); this copy is redistributed for research in SlotGated-SLU",
        format="atis-folders",
        citation="Charles T. Hemphill, John J. Godfrey and George R. Doddington. 1990. The ATIS Spoken "
        "Language Systems Pilot Corpus. Speech and Natural Language Workshop. Split: " + _SLOT_GATED_CITATION,
        homepage="https://github.com/MiuLab/SlotGated-SLU",
        splits=("train", "valid", "test"),
        files=_slot_gated_files("atis", _ATIS_SHA),
        layout_note=_slot_gated_layout("atis"),
    )


def _snips() -> CorpusSpec:
    return CorpusSpec(
        name="snips",
        description="SNIPS voice-assistant queries (7 intents) for joint intent detection and slot filling, "
        "in the split of Goo et al. 2018 (13,084 train / 700 valid / 700 test)",
        licence="research use; Snips NLU benchmark data as redistributed in SlotGated-SLU (see homepage)",
        format="atis-folders",
        citation="Alice Coucke et al. 2018. Snips Voice Platform: an embedded Spoken Language Understanding "
        "system for private-by-design voice interfaces. arXiv:1805.10190. Split: " + _SLOT_GATED_CITATION,
        homepage="https://github.com/MiuLab/SlotGated-SLU",
        splits=("train", "valid", "test"),
        files=_slot_gated_files("snips", {}),
        layout_note=_slot_gated_layout("snips"),
    )


_EWT_URL = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.15/"
_EWT_SHA = {
    "train": "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
    "dev": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
}


def _ud_english_ewt() -> CorpusSpec:
    names = {split: f"en_ewt-ud-{split}.conllu" for split in ("train", "dev", "test")}
    return CorpusSpec(
        name="ud-english-ewt",
        description="Universal Dependencies English Web Treebank v2.15: web text with UPOS tags, "
        "features and dependency trees (12,544 train / 2,001 dev / 2,077 test sentences)",
        licence="CC BY-SA 4.0",
        format="conllu",
        citation="Natalia Silveira, Timothy Dozat, Marie-Catherine de Marneffe, Samuel Bowman, Miriam Connor, "
        "John Bauer and Christopher D. Manning. 2014. A Gold Standard Dependency Corpus for English. LREC.",
        homepage="https://github.com/UniversalDependencies/UD_English-EWT",
        splits=("train", "dev", "test"),
        files=tuple(FileSpec(_EWT_URL + name, name, _EWT_SHA.get(split)) for split, name in names.items()),
        layout_note="one folder with en_ewt-ud-{train,dev,test}.conllu; pass it as --data-dir to "
        "treeseq train tagger (UPOS, column 4)",
    )


CORPORA: dict[str, CorpusSpec] = {
    spec.name: spec for spec in (_sst(), _multi30k(), _multi30k_en(), _atis(), _snips(), _ud_english_ewt())
}


def get_corpus(name: str) -> CorpusSpec:
    """Look a corpus up by name.

    Args:
        name: a key of `CORPORA`, e.g. "sst".

    Returns:
        The corpus's spec.

    Raises:
        ConfigError: the name is unknown; the message lists the known names.
    """
    try:
        return CORPORA[name]
    except KeyError:
        raise ConfigError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}") from None
