"""The public entry points: `load` a model archive, `train` a family, `evaluate` a model on a split.

    import treeseq
    model = treeseq.load("runs/sst.pt")
    results = model.predict(["The film is not bad at all.", "A dull plot."])
    results[0].to_dict()      # the record `treeseq classify --format jsonl` prints

The command line calls exactly these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

from treeseq.errors import CheckpointError, ConfigError

if TYPE_CHECKING:  # loading a family imports torch; `import treeseq` does not
    from treeseq.recipes.classifier import ClassifierModel
    from treeseq.recipes.lm import LanguageModel
    from treeseq.recipes.parser import ParserModel
    from treeseq.recipes.tagger import TaggerModel
    from treeseq.recipes.translator import TranslatorModel
    from treeseq.recipes.tree import TreeModel
    from treeseq.results import Report
    from treeseq.training.engine import FitResult

    Model = Union[TreeModel, ParserModel, TaggerModel, TranslatorModel, ClassifierModel, LanguageModel]

FamilyName = Literal["tree", "parser", "tagger", "translator", "classifier", "lm"]
FAMILIES: tuple[str, ...] = ("tree", "parser", "tagger", "translator", "classifier", "lm")


def _recipes(family: str) -> Any:
    """The module that trains, evaluates and loads one family (imported on first use)."""
    import importlib  # noqa: PLC0415

    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    return importlib.import_module(f"treeseq.recipes.{family}")


_MODEL_CLASSES = {"tree": "TreeModel", "parser": "ParserModel", "tagger": "TaggerModel", "translator": "TranslatorModel",
                  "classifier": "ClassifierModel", "lm": "LanguageModel"}
# Options that `load` passes on to one family's model only.
_LOAD_OPTIONS = {"tree": ("max_length", "spacy_model", "workers"), "parser": ("max_length", "workers"),
                 "tagger": ("max_length",), "translator": ("max_length",),
                 "classifier": ("max_length",), "lm": ("max_length",)}


def load(path: str | Path, device: str = "auto", precision: str = "fp32", *, family: FamilyName | None = None,
         **options: Any) -> Model:  # fmt: skip
    """Load any treeseq model archive and return the family's model, ready to `predict`.

    Args:
        path: a model archive written by `treeseq train` (read with `torch.load(weights_only=True)`).
        device: auto, cpu, cuda or cuda:N.
        precision: fp32, or bf16 (faster on CPUs and GPUs with bf16 units).
        family: ask for one family; "parser" on a tree classifier returns the parser it carries.
        options: every family: max_length (the longest input: tokens for tree classifiers, parsers and
            taggers, source subwords for translators); tree classifiers and parsers: workers (parser
            batches run at once); tree classifiers: spacy_model (parse with spaCy).

    Raises:
        CheckpointError: not a treeseq archive, a newer format, or not of the asked family.
        ConfigError: an option this family does not take.
    """
    from treeseq.checkpoint import load_archive  # noqa: PLC0415

    path = Path(path)
    archive = load_archive(path)
    found = archive.get("task")
    if family == "parser" and found == "tree":
        if "parser" not in archive:
            raise CheckpointError(f"{path}: this tree model carries no parser (train it with --parser FILE)")
        archive, found = archive["parser"], "parser"
    if found not in FAMILIES:
        raise CheckpointError(f"{path}: unknown model family {found!r}")
    if family is not None and found != family:
        raise CheckpointError(f"{path}: this is a {found!r} model, expected a {family!r} model")
    allowed = _LOAD_OPTIONS.get(found, ())
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no further options"
        raise ConfigError(f"a {found} model does not take {', '.join(unknown)} ({takes})")
    model_class = getattr(_recipes(found), _MODEL_CLASSES[found])
    try:
        return model_class.from_archive(archive, device, precision, path=path, **options)  # type: ignore[no-any-return]
    except (KeyError, TypeError, RuntimeError, ValueError, IndexError, AttributeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise CheckpointError(f"{path}: a damaged {found} archive ({type(err).__name__}: {first})") from None


def train(family: FamilyName, data_dir: str | Path, output: str | Path, *, overwrite: bool = False,
          **options: Any) -> FitResult:  # fmt: skip
    """Train a model of one family on a corpus folder with the shared engine.

    Args:
        family: tree, parser, tagger, translator, classifier or lm.
        data_dir: the corpus folder (see each family's `train` for the layouts it reads).
        output: the best model archive; the last checkpoint and the metrics log go beside it.
        overwrite: replace a finished run at `output` (else refused; `resume=True` continues it).
        options: config (a TOML file), overrides (`section.key=value` strings), resume, device,
            progress, epoch_hook, and any model, data or training setting of the family by name
            (epochs=3, hidden_size=100, lr=1e-3, ...).

    Returns:
        The engine's FitResult: how training ended and the best dev metric.
    """
    from treeseq.training.outputs import claim_output  # noqa: PLC0415

    recipes = _recipes(family)
    with claim_output(output, resume=bool(options.get("resume")), overwrite=overwrite):
        return recipes.train(data_dir, output, **options)


def evaluate(model: Model | str | Path, data_dir: str | Path, split: str | None = None, *, device: str = "auto",
             precision: str = "fp32", predictions: bool = False, **options: Any) -> Report:  # fmt: skip
    """The family's standard metrics for a model on a corpus split, in percent.

    Args:
        model: a loaded model, or the path of an archive.
        split: the split's name (default: dev; val for translators).
        predictions: also return one result per evaluated sentence.
        options: tree classifiers: parse (score trees parsed from raw text); translators: beam.
            Language models report perplexity and bits per character (not percentages).

    Returns:
        A Report: metrics in percent, run facts, tables, and the predictions when asked for.
    """
    loaded = model if not isinstance(model, (str, Path)) else load(model, device, precision)
    family = loaded.family
    split = split or ("val" if family == "translator" else "dev")
    return _recipes(family).evaluate(loaded, data_dir, split, predictions=predictions, **options)
