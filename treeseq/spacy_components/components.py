"""spaCy pipeline components over treeseq models: a tagger, a tree classifier and a translator.

Each component loads its archive on first use (or from the pipeline folder in `from_disk`), runs the
model on whole `nlp.pipe` batches (`batch_size` docs a `predict` call) and respects the pipeline's
tokenization:

- the tagger tags the doc's own tokens (whitespace tokens are skipped), so every token gets a tag;
- the tree classifier and the translator read each sentence's text (`doc.sents` where the pipeline
  sets sentence boundaries, else the whole doc); the tree classifier's constituents are mapped onto
  the doc's tokens by their character offsets, and where a constituent's edges fall inside a spaCy
  token it is widened to whole tokens with a warning (the record keeps the exact offsets).

`nlp.to_disk` copies the archive into the component's folder as `model.pt`; `spacy.load` reads it from
there, so the saved pipeline does not depend on the original archive's path.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from spacy.tokens import Doc, Span

from treeseq.errors import ConfigError
from treeseq.options import FAMILIES

TRANSLATOR_DEFAULTS = FAMILIES["translator"].defaults("predict")

ARCHIVE = "model.pt"


def _raise_error(proc_name: str, proc: Any, docs: list[Doc], error: Exception) -> None:
    """spaCy's default error handler: raise."""
    raise error


def _extension(name: str) -> None:
    if not Doc.has_extension(name):
        Doc.set_extension(name, default=None)


class TreeseqComponent:
    """What the three components share: the archive, lazy loading, batching, serialization."""

    family = ""

    def __init__(self, nlp: Any, name: str, model: str | list[str], device: str = "cpu", batch_size: int = 64,
                 per_sentence: bool = True) -> None:  # fmt: skip
        self.name = name
        # one archive, or several (a list) that predict as their ensemble
        self.archive: Path | list[Path] | None = [Path(m) for m in model] if isinstance(model, (list, tuple)) else (
            Path(model) if model else None)  # fmt: skip
        if isinstance(self.archive, list) and not self.archive:
            self.archive = None
        self.device, self.batch_size, self.per_sentence = device, batch_size, per_sentence
        self._model: Any = None

    @property
    def treeseq_model(self) -> Any:
        """The treeseq model, loaded on first use.

        Not named `model`: spaCy probes components for a `model` attribute (its listener protocol)
        while it builds a pipeline, which would load the archive from its old path before
        `from_disk` points the component at the pipeline folder's copy.
        """
        if self._model is None:
            if self.archive is None:
                raise ConfigError(f"{self.name}: no model archive; add the component with config={{'model': 'path.pt'}}")
            from treeseq.api import load  # noqa: PLC0415 (torch loads only when a component first runs)

            self._model = load(self.archive, self.device, family=self.family)  # type: ignore[arg-type]
        return self._model

    def __call__(self, doc: Doc) -> Doc:
        self.annotate([doc], [1])
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        """Docs annotated `batch_size` at a time (default: the component's), one `predict` call a batch, in order.

        A doc that cannot be processed (too long, no tokens) goes to the error handler (spaCy's
        `set_error_handler` protocol: by default the error is raised) and is not yielded; the other
        docs of its batch are. Errors name the doc by its place in the stream, from 1 (`NAME:17: ...`).
        """
        size = batch_size or self.batch_size
        batch: list[Doc] = []
        first = 1
        for doc in stream:
            batch.append(doc)
            if len(batch) >= size:
                yield from self._annotated(batch, first)
                first += len(batch)
                batch = []
        if batch:
            yield from self._annotated(batch, first)

    def _annotated(self, docs: list[Doc], first: int) -> Iterator[Doc]:
        numbers = list(range(first, first + len(docs)))
        try:
            self.annotate(docs, numbers)
        except Exception:  # noqa: BLE001 - spaCy's protocol hands any error to the handler: find the docs at fault
            pass
        else:
            yield from docs
            return
        handler = self.get_error_handler()
        for doc, number in zip(docs, numbers):
            try:
                self.annotate([doc], [number])
            except Exception as err:  # noqa: BLE001 - see above
                handler(self.name, self, [doc], err)
                continue
            yield doc

    def set_error_handler(self, error_handler: Callable[[str, Any, list[Doc], Exception], Any]) -> None:
        """What to do with a doc that fails (spaCy's protocol, set by `nlp.set_error_handler` too):
        called as handler(component name, component, [doc], error); `spacy.util.ignore_error` skips it."""
        self._error_handler = error_handler

    def get_error_handler(self) -> Callable[[str, Any, list[Doc], Exception], Any]:
        return getattr(self, "_error_handler", None) or _raise_error

    def annotate(self, docs: Sequence[Doc], numbers: Sequence[int]) -> None:  # pragma: no cover - every component overrides
        """Annotate `docs`; `numbers` are their places in the stream (errors name them)."""
        raise NotImplementedError

    def sentences(self, doc: Doc) -> list[Span]:
        """The doc's sentences where the pipeline sets boundaries (and per_sentence), else the whole doc."""
        if self.per_sentence and doc.has_annotation("SENT_START"):
            return [s for s in doc.sents if s.text.strip()]
        return [doc[:]] if doc.text.strip() else []

    def to_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> None:
        """The archive copied into the component's folder of the pipeline (several: their ensemble archive)."""
        if self.archive is None:
            raise ConfigError(f"{self.name}: no model archive to save")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if isinstance(self.archive, list):
            from treeseq.checkpoint import load_archive, make_ensemble_archive, member_archives, save_atomic  # noqa: PLC0415

            members = [m for one in self.archive for m in member_archives(load_archive(one))]
            save_atomic(make_ensemble_archive(members), path / ARCHIVE)
        elif not (path / ARCHIVE).exists() or not (path / ARCHIVE).samefile(self.archive):
            shutil.copyfile(self.archive, path / ARCHIVE)

    def from_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> TreeseqComponent:
        archive = Path(path) / ARCHIVE
        if not archive.is_file():
            raise ConfigError(f"{self.name}: {archive}: no model archive in the pipeline folder")
        self.archive, self._model = archive, None
        return self


class TaggerComponent(TreeseqComponent):
    """Tags on the doc's tokens: `token.pos_` (UPOS models) or `token.tag_` (XPOS models); for slot
    models `doc.spans["slots"]` (labelled spans); for NLU models also the intent in `doc.cats`."""

    family = "tagger"

    def annotate(self, docs: Sequence[Doc], numbers: Sequence[int]) -> None:
        kept = [[t.i for t in doc if not t.is_space] for doc in docs]
        inputs = [[doc[i].text for i in keep] for doc, keep in zip(docs, kept) if keep]
        lines = [number for number, keep in zip(numbers, kept) if keep]
        results = iter(self.treeseq_model.predict(inputs, source=self.name, line_numbers=lines) if inputs else [])
        column = getattr(self.treeseq_model.inference.data_cfg, "column", "upos")
        for doc, keep in zip(docs, kept):
            if not keep:
                continue
            result = next(results)
            if result.kind == "pos":
                for index, tag in zip(keep, result.tags):
                    self._set_tag(doc[index], tag, column)
                continue
            doc.spans["slots"] = [Span(doc, keep[s.tokens[0]], keep[s.tokens[1] - 1] + 1, label=s.type) for s in result.slots]
            if result.intent is not None:
                doc.cats = {**doc.cats, result.intent: float(result.intent_prob or 0.0)}

    def _set_tag(self, token: Any, tag: str, column: str) -> None:
        if column == "xpos":
            token.tag_ = tag
            return
        try:
            token.pos_ = tag
        except ValueError:  # not one of spaCy's UPOS symbols
            warnings.warn(f"{self.name}: {tag!r} is no universal part of speech; written to token.tag_", stacklevel=3)
            token.tag_ = tag


class TreeComponent(TreeseqComponent):
    """Every constituent of each sentence labelled: `doc._.tree` (records with token and character spans,
    label, probability and every class's probability, pre-order, sentence after sentence),
    `doc.spans["constituents"]` (the same nodes as labelled spans), `doc._.trees` (each sentence's
    TreeResult, e.g. to `render` it) and in `doc.cats` the sentence class probabilities (the root's;
    averaged over the sentences of a longer doc)."""

    family = "tree"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _extension("tree")
        _extension("trees")

    def annotate(self, docs: Sequence[Doc], numbers: Sequence[int]) -> None:
        sentences = [self.sentences(doc) for doc in docs]
        texts = [s.text for sents in sentences for s in sents]
        lines = [number for number, sents in zip(numbers, sentences) for _ in sents]
        results = iter(self.treeseq_model.predict(texts, source=self.name, line_numbers=lines) if texts else [])
        for doc, sents in zip(docs, sentences):
            nodes, spans, trees, widened = [], [], [], 0
            for number, sent in enumerate(sents):
                result = next(results)
                trees.append(result)
                for node in result.nodes:
                    start, end = sent.start_char + node.start, sent.start_char + node.end
                    span = doc.char_span(start, end, label=node.label)
                    if span is None:
                        span = doc.char_span(start, end, label=node.label, alignment_mode="expand")
                        widened += 1
                    spans.append(span)
                    nodes.append({"start": span.start, "end": span.end, "start_char": start, "end_char": end,
                                  "text": doc.text[start:end], "label": node.label, "prob": node.prob,
                                  "probs": dict(zip(result.classes, node.probs)), "sentence": number})  # fmt: skip
            if widened:
                warnings.warn(f"{self.name}: {widened} constituent(s) do not line up with the pipeline's tokens (the model "
                              "tokenizes like the treebank); their spans were widened to whole tokens", stacklevel=3)  # fmt: skip
            doc._.tree, doc._.trees = nodes, trees
            doc.spans["constituents"] = spans
            if trees:
                classes = trees[0].classes
                doc.cats = {**doc.cats, **{c: sum(t.nodes[0].probs[i] for t in trees) / len(trees) for i, c in enumerate(classes)}}


class TranslatorComponent(TreeseqComponent):
    """The translation in `doc._.translation` (each sentence translated, joined by spaces) and each
    sentence's TranslationResult (n-best list, scores) in `doc._.translations`."""

    family = "translator"

    def __init__(self, *args: Any, beam: int = TRANSLATOR_DEFAULTS["beam"], n_best: int = TRANSLATOR_DEFAULTS["n_best"],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        try:  # the translator's declaration (treeseq.options) checks them, as on every surface
            FAMILIES["translator"].check("predict", {"beam": beam, "n_best": n_best})
        except ConfigError as err:
            raise ConfigError(f"{self.name}: {err}") from None
        self.beam, self.n_best = beam, n_best
        _extension("translation")
        _extension("translations")

    def annotate(self, docs: Sequence[Doc], numbers: Sequence[int]) -> None:
        sentences = [self.sentences(doc) for doc in docs]
        texts = [s.text for sents in sentences for s in sents]
        lines = [number for number, sents in zip(numbers, sentences) for _ in sents]
        results = iter(self.treeseq_model.predict(texts, beam=self.beam, n_best=self.n_best, source=self.name,
                                                  line_numbers=lines) if texts else [])  # fmt: skip
        for doc, sents in zip(docs, sentences):
            mine = [next(results) for _ in sents]
            doc._.translations = mine
            doc._.translation = " ".join(r.text for r in mine)
