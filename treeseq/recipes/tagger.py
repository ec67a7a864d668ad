"""Taggers end to end: train on a UD, ATIS/SNIPS, JSONL or CoNLL folder, evaluate, tag text or CoNLL-U."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from treeseq.corpora.readers.conllu import UPOS, XPOS, ConlluSentence
from treeseq.corpora.readers.tagging import Split, check_tagged, conllu_sentences, read_split
from treeseq.data.tagging import Encoder, TaggedSentence
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import class_scores
from treeseq.models.ensemble import TaggerEnsemble
from treeseq.models.tagger import BiRNNTagger
from treeseq.recipes.common import (
    Configs,
    Family,
    LoadedModel,
    RunSetup,
    Training,
    archive_entry,
    check_length,
    init_vectors,
    input_numbers,
    sample_limit,
)  # fmt: skip
from treeseq.results import Report, Table, TagResult, chunk_slots
from treeseq.tags import spans
from treeseq.tasks.tagger import (
    TRAIN_DEFAULTS,
    Prediction,
    TaggerDataConfig,
    TaggerInference,
    TaggerModelConfig,
    TaggerTask,
    build_encoder,
    build_model,
    check_labels,
    encode_sentences,
    score,
    task_kind,
)  # fmt: skip
from treeseq.tokenize import blank_tokens, whitespace_tokens
from treeseq.training.engine import FitResult
from treeseq.vocab import Vocab

FAMILY = Family(
    "tagger", TaggerModelConfig, TaggerDataConfig, tuple(TRAIN_DEFAULTS.items()),
    renames=(("output_layer", ("model", "output")), ("embed_dim", ("model", "word_dim"))),
)  # fmt: skip
CONLLU_COLUMNS = {"upos": UPOS, "xpos": XPOS}
MAX_TOKENS = 1000  # longest sentence tagged by default: a runaway line must not take the machine's memory


def train(
    data_dir: str | Path,
    output: str | Path,
    *,
    vectors: str | Path | None = None,
    spacy_vectors: str | None = None,
    **options: Any,
) -> FitResult:
    """Train a BiLSTM/BiGRU tagger (word + character features, softmax or CRF, joint intent for NLU).

    `data_dir` is a UD treebank (POS tags), an ATIS/SNIPS folder (slots + intent), train.jsonl/dev.jsonl,
    or CoNLL column files train.conll/dev.conll.

    Args:
        options: the run's options (config, overrides, resume, device, progress, epoch_hook, announce:
            see recipes.common.Training.run), model settings (rnn, layers, hidden_size, word_dim, char_kind, output_layer, scheme,
            dropout, ...), data settings (column: upos or xpos, ...) and training settings (epochs, lr, ...).
    """
    return TaggerTraining(vectors, spacy_vectors).run(data_dir, output, **options)


@dataclass
class TaggerData:
    """The splits, what they tag (pos, slots or nlu), the model settings resolved for it and the encoder."""

    data_dir: Path
    train: Any
    dev: Any
    kind: str
    model_cfg: TaggerModelConfig
    encoder: Encoder


def limited_split(split: Split, limit: int | None, seed: int) -> Split:
    """The split with a random sample of `limit` of its sentences (in their order, drawn with `seed`)."""
    keep = sample_limit(range(len(split.sentences)), limit, seed, "sentences", split.path)
    if len(keep) == len(split.sentences):
        return split
    conllu = [split.conllu[i] for i in keep] if split.conllu is not None else None
    return replace(split, sentences=[split.sentences[i] for i in keep], conllu=conllu)


@dataclass
class TaggerTraining(Training):
    """The tagger family's part of a training run (see recipes.common.Training)."""

    vectors: str | Path | None
    spacy_vectors: str | None
    family = FAMILY

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> TaggerData:
        data_cfg = cfgs.data
        train_split = read_split(data_dir, "train", data_cfg.column, data_cfg.token_column, data_cfg.tag_column)
        train_split = limited_split(train_split, cfgs.train.limit, cfgs.train.seed)
        dev_split = read_split(data_dir, "dev", data_cfg.column, data_cfg.token_column, data_cfg.tag_column)
        check_tagged(train_split.sentences, data_cfg.column)
        check_tagged(dev_split.sentences, data_cfg.column)
        kind = task_kind(train_split.sentences)
        missing = next((s for s in dev_split.sentences if s.intent is None), None)
        if kind == "nlu" and missing is not None:
            raise CorpusFormatError(f"{missing.where}: the dev split has sentences without an intent (no label file?) while the "
                                    "training split has intents; add the dev intents, or remove train's label file to train slots only")  # fmt: skip
        model_cfg = cfgs.model.resolved(kind)
        encoder = _saved_encoder(saved) if saved else build_encoder(train_split.sentences, model_cfg, kind)
        check_labels(dev_split.sentences, encoder, kind)
        return TaggerData(data_dir, train_split, dev_split, kind, model_cfg, encoder)

    def build_model(self, data: TaggerData, cfgs: Configs, saved: dict | None, setup: RunSetup) -> BiRNNTagger:
        model = build_model(data.model_cfg, data.encoder, data.kind)
        if saved is None and (self.vectors or self.spacy_vectors):
            init_vectors(model.embedding, data.encoder.words, self.vectors, self.spacy_vectors)
        return model

    def build_task(self, data: TaggerData, cfgs: Configs, setup: RunSetup) -> TaggerTask:
        info = {"data_dir": str(data.data_dir), "train": str(data.train.path), "dev": str(data.dev.path)}
        examples = encode_sentences(data.train.sentences, data.encoder, data.kind, data.model_cfg.scheme)
        return TaggerTask(data.kind, data.model_cfg, cfgs.train, data.encoder, examples, data.dev.sentences, cfgs.data, info)

    def describe(self, data: TaggerData, cfgs: Configs) -> str:
        model_cfg, encoder = data.model_cfg, data.encoder
        intents = f", {len(encoder.intents)} intents" if encoder.intents else ""
        return (f"{data.kind} tagger ({model_cfg.rnn} x{model_cfg.layers}, {model_cfg.char_kind} chars, {model_cfg.output}): "
                f"{len(data.train.sentences)} train / {len(data.dev.sentences)} dev sentences, {len(encoder.tags)} tags"
                f"{intents}, vocabulary {len(encoder.words)}")  # fmt: skip


def _saved_encoder(saved: dict) -> Encoder:
    vocabs = saved["vocabs"]
    return Encoder(Vocab.from_dict(vocabs["words"]), Vocab.from_dict(vocabs["chars"]), saved["tags"], saved["intents"])


def text_sentences(lines: Sequence[str], tokenized: bool = False) -> list[TaggedSentence]:
    """Tokenize raw lines (spaCy's blank English tokenizer, or whitespace), keeping character offsets."""
    pieces = [whitespace_tokens(line) for line in lines] if tokenized else blank_tokens(lines)
    return [TaggedSentence(tuple(tokens), offsets=tuple(offsets)) for tokens, offsets in pieces]


def token_sentence(tokens: Sequence[str]) -> TaggedSentence:
    """Given tokens as they are (a token may hold a space, as in some UD treebanks); offsets refer to
    the tokens joined by single spaces."""
    offsets, start = [], 0
    for token in tokens:
        offsets.append((start, start + len(token)))
        start += len(token) + 1
    return TaggedSentence(tuple(tokens), offsets=tuple(offsets))


class TaggerModel(LoadedModel[TagResult]):
    """A loaded tagger: sentences (raw text or token lists) in, tags (and intent + slots) out."""

    family = "tagger"
    ensemble_network = TaggerEnsemble
    ensemble_match = (archive_entry("kind"), archive_entry("tags"), archive_entry("intents"), archive_entry("config.data.column"))

    max_length = MAX_TOKENS

    inference_class = TaggerInference

    @property
    def kind(self) -> str:
        """pos, slots or nlu."""
        return self.inference.kind

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.inference.encoder.tags)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(self.inference.encoder.intents)

    @property
    def config(self) -> TaggerModelConfig:
        return self.inference.cfg

    def predict(self, inputs: Sequence[str | Sequence[str]], tokenized: bool = False, *, source: str = "<input>",
                line_numbers: Sequence[int] | None = None) -> list[TagResult]:  # fmt: skip
        """Tag each input: raw text (spaCy's blank English tokenizer; with `tokenized`, split on
        whitespace) or a list of tokens (offsets then refer to the tokens joined by single spaces).

        Raises:
            CorpusFormatError: `source:LINE: problem` for a sentence with no tokens or more than
                `max_length` (default 1,000).
        """
        numbers = input_numbers(inputs, source, line_numbers)
        texts = [item if isinstance(item, str) else " ".join(item) for item in inputs]
        raw = [i for i, item in enumerate(inputs) if isinstance(item, str)]
        sentences: list[Any] = [None if isinstance(item, str) else token_sentence(item) for item in inputs]
        for index, sentence in zip(raw, text_sentences([texts[i] for i in raw], tokenized)):
            sentences[index] = sentence
        for number, sentence in zip(numbers, sentences):
            check_length(len(sentence.tokens), self.max_length, f"{source}:{number}", "tokens", "tagger")
        predictions = self.inference.predict(sentences) if sentences else []
        return [self._result(text, s, p) for text, s, p in zip(texts, sentences, predictions)]

    def _result(self, text: str, sentence: TaggedSentence, prediction: Prediction) -> TagResult:
        offsets = sentence.offsets or ()
        slots = chunk_slots(text, offsets, spans(prediction.tags)) if self.kind != "pos" else ()
        return TagResult(text, sentence.tokens, tuple(prediction.tags), tuple(prediction.tag_probs), offsets, self.kind,
                         prediction.intent, prediction.intent_prob, slots)  # fmt: skip

    def tag_conllu_iter(self, lines: Iterable[tuple[int, str]] | Iterable[str], batch_size: int = 64, *,
                        source: str = "<input>", skip_bad: bool = False) -> Iterator[TaggedBatch]:  # fmt: skip
        """Stream CoNLL-U: lines in (numbered, or plain strings as from `open(path)`), tagged sentences out
        batch by batch, reading at most `batch_size` sentences ahead (bounded memory); every byte but
        the tag column kept.

        With `skip_bad`, a sentence that cannot be tagged (over `max_length`) comes out as it came, in a
        batch of its own with the problem in `error`.

        Raises:
            CorpusFormatError: bad CoNLL-U (`source:LINE: problem`), or without `skip_bad` a sentence over the limit.
            ConfigError: the model tags slots, not a CoNLL-U column.
        """
        numbered = ((n, line.rstrip("\r\n")) if isinstance(line, str) else line for n, line in enumerate(lines, start=1))
        return _tag_conllu_batches(self, numbered, batch_size, source, skip_bad)  # type: ignore[arg-type]

    def tag_conllu(self, sentences: Sequence[ConlluSentence], source: str = "<input>") -> list[ConlluSentence]:
        """CoNLL-U sentences with the model's column (UPOS or XPOS) filled in; every other byte kept.

        Raises:
            ConfigError: the model tags slots, not a CoNLL-U column.
        """
        if self.kind != "pos":
            raise ConfigError(f"a {self.kind} model writes chunk tags, not a CoNLL-U part-of-speech column")
        column = self.inference.data_cfg.column
        for sentence in sentences:
            check_length(len(sentence.word_lines), self.max_length, f"{source}:{sentence.first_line_no}", "words", "tagger")
        predictions = self.inference.predict(conllu_sentences(sentences, column, source))
        return [s.with_column(CONLLU_COLUMNS[column], p.tags) for s, p in zip(sentences, predictions)]


@dataclass(frozen=True)
class TaggedBatch:
    """A batch of CoNLL-U sentences from `tag_conllu_iter`: tagged, or (with skip_bad) some as they came,
    with the first problem met in the batch."""

    sentences: list[ConlluSentence]
    error: str | None = None


def _tag_conllu_batches(model: TaggerModel, lines: Iterable[tuple[int, str]], batch_size: int, source: str,
                        skip_bad: bool) -> Iterator[TaggedBatch]:  # fmt: skip
    from treeseq.corpora.readers.conllu import parse_conllu_lines  # noqa: PLC0415

    sentences = parse_conllu_lines(lines, source)
    while batch := list(itertools.islice(sentences, batch_size)):
        try:
            yield TaggedBatch(model.tag_conllu(batch, source))
            continue
        except CorpusFormatError:
            if not skip_bad:
                raise
        for sentence in batch:  # one at a time, to find the bad ones
            try:
                yield TaggedBatch(model.tag_conllu([sentence], source))
            except CorpusFormatError as err:
                yield TaggedBatch([sentence], str(err))


def _pos_tables(report: Report, sentences: Sequence[TaggedSentence], found: Sequence[Prediction], encoder: Encoder) -> None:
    """Accuracy on words unseen in training, and precision, recall and F1 of every tag."""
    pairs = [(g, p, w) for s, f in zip(sentences, found) for g, p, w in zip(s.tags or (), f.tags, s.tokens)]
    unseen = [(g, p) for g, p, w in pairs if w not in encoder.words]
    report.metrics["unseen_acc"] = 100 * sum(g == p for g, p in unseen) / len(unseen) if unseen else float("nan")
    report.info["unseen_tokens"] = len(unseen)
    tags = sorted({g for g, _, _ in pairs} | {p for _, p, _ in pairs})
    index = {t: i for i, t in enumerate(tags)}
    confusion = [[0] * len(tags) for _ in tags]
    for gold, predicted, _ in pairs:
        confusion[index[gold]][index[predicted]] += 1
    report.tables["by_tag"] = Table("scores by tag", ("tag", "precision", "recall", "F1", "gold"),
                                    tuple((n, p * 100, r * 100, f * 100, g) for n, p, r, f, g in class_scores(confusion, tags)))  # fmt: skip


def evaluate(model: TaggerModel, data_dir: str | Path, split: str = "dev", *, predictions: bool = False,
             limit: int | None = None) -> Report:
    """Token accuracy; chunk P/R/F1 overall and by type (conlleval); intent and frame accuracy for NLU."""
    inference = model.inference
    data = inference.data_cfg
    loaded = limited_split(read_split(Path(data_dir), split, data.column, data.token_column, data.tag_column), limit, 0)
    check_tagged(loaded.sentences, data.column)
    check_labels(loaded.sentences, inference.encoder, inference.kind)
    found = inference.predict(loaded.sentences)
    scored = score(loaded.sentences, found, inference.kind)
    report = Report("tagger", str(loaded.path), {k: v * 100 for k, v in scored.metrics.items()},
                    {"sentences": scored.sentences, "tokens": scored.tokens})  # fmt: skip
    if inference.kind == "pos":
        _pos_tables(report, loaded.sentences, found, inference.encoder)
    if scored.chunks is not None:
        rows = [(name, s.precision * 100, s.recall * 100, s.f1 * 100, s.gold, s.predicted)
                for name, s in sorted(scored.chunks.by_type.items())]  # fmt: skip
        overall = scored.chunks.overall
        rows.append(("overall", overall.precision * 100, overall.recall * 100, overall.f1 * 100, overall.gold, overall.predicted))
        report.tables["by_type"] = Table("chunks by type (conlleval)",
                                         ("type", "precision", "recall", "F1", "gold", "predicted"), tuple(rows))  # fmt: skip
    if predictions:
        sentences = [token_sentence(s.tokens) for s in loaded.sentences]
        report.predictions = [model._result(" ".join(s.tokens), s, p) for s, p in zip(sentences, found)]
    return report
