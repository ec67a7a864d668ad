"""What every family's train, evaluate and predict share: options, configs, vectors, batching of inputs.

Config resolution, written once for every family: defaults < config file < `overrides` (`--set`) <
explicit options < the archive's own configs on `resume` (there only the training settings given
explicitly still apply, such as more epochs).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import random
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, Sequence, TypeVar

from treeseq.config import TrainConfig, build_config, parse_overrides, read_config_file
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.text import check_unicode

if TYPE_CHECKING:
    from treeseq.training.engine import FitResult

logger = logging.getLogger(__name__)

R = TypeVar("R")
T = TypeVar("T")
P = TypeVar("P", bound="LoadedModel")
Announce = Callable[[str], None]


@dataclass(frozen=True)
class Family:
    """A model family's config classes and how option names map onto their fields."""

    name: str
    model: type
    data: type | None = None
    train_defaults: tuple[tuple[str, Any], ...] = ()
    # option name -> (section, field) where the option's name is not the field's
    renames: tuple[tuple[str, tuple[str, str]], ...] = ()

    def sections(self) -> dict[str, type]:
        out: dict[str, type] = {"model": self.model, "train": TrainConfig}
        if self.data is not None:
            out["data"] = self.data
        return out


@dataclass(frozen=True)
class Configs:
    model: Any
    train: TrainConfig
    data: Any = None


def split_options(family: Family, options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Keyword options grouped by config section; None means not given.

    Raises:
        ConfigError: an option that no section of this family has.
    """
    renames = dict(family.renames)
    sections = family.sections()
    names = {section: {f.name for f in fields(cls)} for section, cls in sections.items()}
    out: dict[str, dict[str, Any]] = {section: {} for section in sections}
    for key, value in options.items():
        if value is None:
            continue
        if key in renames:
            section, name = renames[key]
        else:
            section = next((s for s in ("model", "data", "train") if key in names.get(s, ())), "")
            name = key
        if not section:
            known = sorted({*renames, *itertools.chain.from_iterable(names.values())})
            raise ConfigError(f"train {family.name}: unknown option {key!r}; known: {', '.join(known)}")
        out[section][name] = value
    return out


def resolve_configs(family: Family, config_file: str | Path | None, overrides: Sequence[str] | None,
                    options: dict[str, Any], saved: dict | None = None,
                    model_defaults: dict[str, Any] | None = None) -> Configs:  # fmt: skip
    """The family's configs from all layers (see the module docstring).

    Args:
        model_defaults: defaults that depend on other options (below the config file), e.g. the
            child-sum Tree-LSTM when the trees come from a dependency parser.
    """
    file_cfg, sets = read_config_file(config_file), parse_overrides(list(overrides or []))
    sections = family.sections()
    for section in set(file_cfg) | set(sets):
        if section not in sections:
            expected = ", ".join(f"[{s}]" for s in sections)
            raise ConfigError(f"unknown config section [{section}]; expected {expected}")
    explicit = split_options(family, options)
    if saved is not None:
        stored = saved["config"]
        _refuse_changes(family, stored, explicit, sets)
        return Configs(
            build_config(family.model, "model", stored["model"]),
            build_config(TrainConfig, "train", saved["training"]["train_config"], explicit["train"]),
            build_config(family.data, "data", stored["data"]) if family.data is not None else None,
        )
    layers = {s: (file_cfg.get(s, {}), sets.get(s, {}), explicit[s]) for s in sections}
    return Configs(
        build_config(family.model, "model", model_defaults or {}, *layers["model"]),
        build_config(TrainConfig, "train", dict(family.train_defaults), *layers["train"]),
        build_config(family.data, "data", *layers["data"]) if family.data is not None else None,
    )


def _refuse_changes(family: Family, stored: dict, explicit: dict[str, dict], sets: dict[str, dict]) -> None:
    """On resume the archive's model and data settings hold: an option or --set that differs is an error."""
    for section in ("model", "data"):
        if section not in family.sections():
            continue
        resolved = {f.name: f for f in fields(family.sections()[section])}
        for name, value in {**sets.get(section, {}), **explicit[section]}.items():
            if name not in resolved:
                raise ConfigError(f"unknown setting {section}.{name}; known: {', '.join(sorted(resolved))}")
            have = build_config(family.sections()[section], section, stored.get(section, {}))
            wanted = build_config(family.sections()[section], section, stored.get(section, {}), {name: value})
            if getattr(wanted, name) != getattr(have, name):
                raise ConfigError(f"--resume: {section}.{name} is {getattr(have, name)!r} in the checkpoint, "
                                  f"not {getattr(wanted, name)!r}; drop the option or train a new model")  # fmt: skip


def init_vectors(embedding: Any, vocab: Any, path: str | Path | None, spacy_name: str | None) -> None:
    """Copy pretrained vectors (a word2vec/GloVe text file or a spaCy pipeline's) into an embedding table."""
    import torch  # noqa: PLC0415

    from treeseq.vectors import read_text_vectors, spacy_vectors  # noqa: PLC0415

    weight = embedding.weight
    table, found = read_text_vectors(path, vocab, weight.shape[1]) if path else spacy_vectors(spacy_name or "", vocab)
    if table.shape[1] != weight.shape[1]:
        raise ConfigError(f"the vectors have {table.shape[1]} dimensions but the embeddings have {weight.shape[1]}")
    with torch.no_grad():
        rows = table.abs().sum(-1) > 0
        weight[rows] = table[rows]
    logger.info("pretrained vectors for %d of %d words", found, len(vocab))


def check_length(count: int, limit: int, where: str, unit: str, family: str) -> None:
    """Raise CorpusFormatError (`where: problem`) for an input with nothing in it or over the limit."""
    if count == 0:
        raise CorpusFormatError(f"{where}: no {unit} to process")
    if count > limit:
        raise CorpusFormatError(f"{where}: {count} {unit} is over the {family}'s limit of {limit}; split the line or raise --max-length")


def input_numbers(inputs: Sequence[Any], source: str, line_numbers: Sequence[int] | None) -> list[int]:
    """The inputs' line numbers (from 1 unless given), every text (or token) checked to be valid Unicode.

    Raises:
        CorpusFormatError: `source:LINE:COLUMN: byte 0xff is not valid UTF-8` (an argument or file that
            was not UTF-8) or `...: a lone surrogate U+D800 is not valid Unicode` (e.g. from JSON).
    """
    numbers = list(line_numbers) if line_numbers is not None else list(range(1, len(inputs) + 1))
    for number, item in zip(numbers, inputs):
        if isinstance(item, str):
            check_unicode(item, f"{source}:{number}")
        elif isinstance(item, (list, tuple)) and all(isinstance(token, str) for token in item):
            check_unicode(" ".join(item), f"{source}:{number}")
    return numbers


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def run_fit(task: Any, model: Any, train_cfg: TrainConfig, output: Path, device: Any, dist_info: Any, *, resume: bool,
            progress: Any, epoch_hook: Callable[[Any, dict], None] | None) -> FitResult:  # fmt: skip
    """The engine on a family's task, epoch lines from the main process only; the process group closed after."""
    from treeseq.training.distributed import shutdown  # noqa: PLC0415
    from treeseq.training.engine import fit  # noqa: PLC0415

    hooks = [epoch_hook] if epoch_hook is not None and dist_info.is_main else []
    result = fit(task, model, train_cfg, output, device, dist_info=dist_info, resume=resume, show_progress=progress,
                 epoch_hooks=hooks)  # fmt: skip
    shutdown(dist_info)
    return result


@dataclass(frozen=True)
class RunSetup:
    """Where a training run happens: this process's share of data parallelism and its device."""

    dist_info: Any
    device: Any
    announce: Announce | None = None  # the main process's announcements (None: silent)


def sample_limit(items: Sequence[T], limit: int | None, seed: int, what: str, where: str | Path) -> list[T]:
    """A random sample of `limit` of `items` in their order, drawn with `seed` (every item when `limit` is
    0 or None, or not smaller than their number); logs how many it kept. A corpus sorted by label (SST's
    dev split) gives a fair slice this way, where its first lines would not."""
    if not limit or limit >= len(items):
        return list(items)
    keep = sorted(random.Random(seed).sample(range(len(items)), limit))
    logger.info("%s: kept %s of %s %s (a random sample, seed %s)", where, f"{limit:,}", f"{len(items):,}", what, seed)
    return [items[i] for i in keep]


class Training:
    """One family's training run on the shared skeleton (`run`). A family supplies, as methods:

    - `prepare`: read and check its data and build (or, resuming, restore) its vocabularies;
    - `build_model`: the network (the skeleton seeds torch just before, so the initial weights depend
      on the seed alone), with what the family adds to it (pretrained vectors, start biases);
    - `build_task`: the engine's task over the prepared data;
    - `describe`: the announcement's family part (sizes; the skeleton adds parameters, device, precision);
    - `model_defaults` where a model default depends on other options.

    The skeleton resolves the configs (defaults < file < --set < options < the checkpoint on resume),
    sets up data parallelism and runs the engine.
    """

    family: Family

    def model_defaults(self, saved: dict | None) -> dict[str, Any] | None:
        return None

    def layout_split(self) -> str | None:
        """The training split's name, by which the data folder's layout is recognised (and another
        family's layout refused in one line before anything is read); None to read the folder as given."""
        return "train"

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> Any:  # pragma: no cover
        raise NotImplementedError

    def build_model(self, data: Any, cfgs: Configs, saved: dict | None, setup: RunSetup) -> Any:  # pragma: no cover
        raise NotImplementedError

    def build_task(self, data: Any, cfgs: Configs, setup: RunSetup) -> Any:  # pragma: no cover
        raise NotImplementedError

    def describe(self, data: Any, cfgs: Configs) -> str:  # pragma: no cover
        raise NotImplementedError

    def run(self, data_dir: str | Path, output: str | Path, *, config: str | Path | None = None,
            overrides: Sequence[str] | None = None, resume: bool = False, device: str = "auto", progress: Any = True,
            epoch_hook: Callable[[Any, dict], None] | None = None, announce: Announce | None = None,
            **options: Any) -> FitResult:  # fmt: skip
        """Train on `data_dir`, writing the best archive to `output` (the last checkpoint and the metrics log
        beside it).

        Args:
            config: a TOML file with [model], [train] (and [data]) sections.
            overrides: `section.key=value` strings (as --set).
            resume: continue exactly from `<stem>.last.pt`.
            device: auto, cpu, cuda or cuda:N.
            progress: a progress bar on stderr (or on this rich Console); False for none.
            epoch_hook: called as hook(state, record) after each epoch (main process only).
            announce: called with one line describing the run before it starts.
            options: the family's model, data and training settings by name (epochs=3, lr=1e-3, ...).
        """
        import torch  # noqa: PLC0415

        from treeseq.checkpoint import load_archive  # noqa: PLC0415
        from treeseq.corpora.readers.layouts import check_layout  # noqa: PLC0415
        from treeseq.training.distributed import init_distributed  # noqa: PLC0415
        from treeseq.training.engine import paths_for  # noqa: PLC0415

        data_dir, output = Path(data_dir), Path(output)
        if self.layout_split() is not None:
            check_layout(data_dir, self.family.name, self.layout_split())  # type: ignore[arg-type]
        saved = load_archive(paths_for(output)[0], task=self.family.name) if resume else None
        cfgs = resolve_configs(self.family, config, overrides, options, saved, self.model_defaults(saved))
        dist_info, torch_device = init_distributed(device)
        setup = RunSetup(dist_info, torch_device, announce if dist_info.is_main else None)
        data = self.prepare(data_dir, cfgs, saved, setup)
        torch.manual_seed(cfgs.train.seed)
        model = self.build_model(data, cfgs, saved, setup)
        task = self.build_task(data, cfgs, setup)
        if setup.announce is not None:
            setup.announce(f"{self.describe(data, cfgs)}, {parameter_count(model):,} parameters, {torch_device}, {cfgs.train.precision}")
        return run_fit(task, model, cfgs.train, output, torch_device, dist_info, resume=resume, progress=progress,
                       epoch_hook=epoch_hook)


def archive_entry(dotted: str) -> tuple[str, Callable[[dict], Any]]:
    """(`dotted`, the archive's value at that path, e.g. config.model.labels; None where absent), for
    a family's `ensemble_match`."""
    from treeseq.checkpoint import archive_value  # noqa: PLC0415

    return dotted, lambda archive: archive_value(archive, dotted)


@dataclass(frozen=True)
class LineResult(Generic[R]):
    """One input line's outcome: its result, or None for a blank line or (with skip_bad) a bad one."""

    line: int
    text: str
    result: R | None = None
    error: str | None = None


class LoadedModel(Generic[R]):
    """The public face of a loaded model: `predict` a list, `predict_iter` a stream, in input order.

    Attributes:
        inference: the family's inference over tensors (treeseq.tasks.*).
        path: the archive it was loaded from.
    """

    family: str = ""
    max_length: int = 0  # the longest input a family takes by default (0: the inference's own limit)
    inference_class: Any = None  # the family's inference over tensors, for the shared `from_archive`
    ensemble_network: Any = None  # the family's ensemble network (treeseq.models.ensemble)
    # What ensemble members must share, each (what, archive -> value); the vocabularies always.
    ensemble_match: tuple[tuple[str, Callable[[dict], Any]], ...] = ()
    members: tuple[Path | None, ...] = ()  # an ensemble's member archives (empty for one model)

    def __init__(self, inference: Any, path: Path | None = None, max_length: int | None = None) -> None:
        self.inference, self.path = inference, path
        if max_length:
            self.max_length = max_length

    @classmethod
    def from_archive(cls: type[P], archive: dict, device: str = "auto", precision: str = "fp32", *,
                     max_length: int | None = None, path: Path | None = None) -> P:  # fmt: skip
        """The model of a loaded archive (see `treeseq.load`), on `device`, at `precision`."""
        from treeseq.device import resolve_device  # noqa: PLC0415

        return cls(cls.inference_class.from_archive(archive, resolve_device(device), precision), path, max_length)

    @classmethod
    def ensemble(cls: type[P], members: Sequence[P], path: Path | None = None) -> P:
        """One model that predicts as the combination of `members` (loaded models of this family whose
        archives `treeseq.load` has checked against each other), with their results' types."""
        out = copy.copy(members[0])
        network = cls.ensemble_network([m.inference.model for m in members]).eval()
        out.inference = dataclasses.replace(members[0].inference, model=network)
        out.path, out.members = path, tuple(m.path for m in members)
        return out

    @property
    def labels(self) -> tuple[str, ...]:
        """The classes or tags the model predicts (none for parsers and translators)."""
        return ()

    def predict(self, inputs: Sequence[Any], **options: Any) -> list[R]:  # pragma: no cover - every family overrides
        raise NotImplementedError

    def cost(self, inputs: Sequence[Any], **options: Any) -> int:
        """An upper estimate of the work and memory `predict(inputs, **options)` takes, in units a
        server can budget: here the inputs' whitespace-separated tokens (families whose cost grows
        otherwise, the translator's with beam and output length, say so)."""
        return sum(len(item.split()) if isinstance(item, str) else len(item) for item in inputs)

    def predict_iter(self, inputs: Iterable[Any], batch_size: int = 64, **options: Any) -> Iterator[R | None]:
        """Results one by one, in input order, reading at most `batch_size` inputs ahead (bounded memory).

        Lines read from a file keep their newline; it is removed here, so `open(path)` can be passed as
        is. A blank line gives None, so results stay aligned with the lines; errors name the input's
        number (`<input>:N: ...`).
        """
        numbered = ((number, _strip_newline(item)) for number, item in enumerate(inputs, start=1))
        for item in self.predict_lines(numbered, batch_size, **options):
            yield item.result

    def predict_lines(self, lines: Iterable[tuple[int, str]], batch_size: int = 64, *, source: str = "<input>",
                      skip_bad: bool = False, **options: Any) -> Iterator[LineResult[R]]:  # fmt: skip
        """One LineResult per numbered input line, in order, reading at most `batch_size` lines ahead.

        A blank line gives no result (the output stays line-aligned); so does, with `skip_bad`, a line
        that cannot be processed, whose error is kept in the LineResult.

        Raises:
            TreeseqError: without `skip_bad`, the first line that cannot be processed (`source:LINE: problem`).
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        stream = iter(lines)
        while True:
            chunk = list(itertools.islice(stream, batch_size))
            if not chunk:
                return
            yield from self._predict_chunk(chunk, source, skip_bad, options)

    def _predict_chunk(self, chunk: list[tuple[int, str]], source: str, skip_bad: bool, options: dict) -> list[LineResult[R]]:
        filled = [(number, text) for number, text in chunk if not isinstance(text, str) or text.strip()]
        found: dict[int, R] = {}
        errors: dict[int, str] = {}
        try:
            results = self.predict([t for _, t in filled], source=source, line_numbers=[n for n, _ in filled], **options)
            found = {number: result for (number, _), result in zip(filled, results)}
        except CorpusFormatError:  # a bad line (too long, no tokens); a model-wide error (ConfigError) stops
            if not skip_bad:
                raise
            for number, text in filled:  # one at a time, to find the bad lines
                try:
                    found[number] = self.predict([text], source=source, line_numbers=[number], **options)[0]
                except CorpusFormatError as err:
                    errors[number] = str(err)
        return [LineResult(number, text, found.get(number), errors.get(number)) for number, text in chunk]

    def __call__(self, inputs: Sequence[Any], **options: Any) -> list[R]:
        return self.predict(inputs, **options)

    def __repr__(self) -> str:
        if self.members:
            return f"<treeseq {self.family} ensemble of {len(self.members)} {self.path or ''}>"
        return f"<treeseq {self.family} model {self.path or ''}>"


def _strip_newline(item: Any) -> Any:
    return item.rstrip("\r\n") if isinstance(item, str) else item
