"""What the public API is made of: `load` (one archive or an ensemble), `evaluate`, `average`, and one
training run of a family (`train_one`); `treeseq.api` puts `train` (one run, or one per seed) in front.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence, Union

from treeseq.errors import CheckpointError, ConfigError
from treeseq.options import family_options

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


ModelPath = Union[str, Path]


def load(path: ModelPath | Sequence[ModelPath], device: str = "auto", precision: str = "fp32", *,
         family: FamilyName | None = None, **options: Any) -> Model:  # fmt: skip
    """Load any treeseq model archive, or several as one ensemble, and return the family's model, ready to `predict`.

    Args:
        path: a model archive written by `treeseq train` (read with `torch.load(weights_only=True)`), an
            ensemble archive (`train --seeds`), or a list of archives: their members predict as one
            model of their family, with the same results (see treeseq.models.ensemble for how each
            family combines them). A list of one is that model.
        device: auto, cpu, cuda or cuda:N.
        precision: fp32, or bf16 (faster on CPUs and GPUs with bf16 units).
        family: ask for one family; "parser" on a tree classifier returns the parser it carries.
        options: every family: max_length (the longest input: tokens for tree classifiers, parsers and
            taggers, source subwords for translators); tree classifiers and parsers: workers (parser
            batches run at once); tree classifiers: spacy_model (parse with spaCy).

    Raises:
        CheckpointError: not a treeseq archive, a newer format, or not of the asked family.
        ConfigError: an option this family does not take; ensemble members of different families or
            with different vocabularies or label sets (the first difference is named).
    """
    from treeseq.checkpoint import load_archive, member_archives  # noqa: PLC0415

    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise ConfigError("no model archive to load")
    members: list[tuple[str, Path, dict]] = []
    for one in paths:
        archive = load_archive(one)
        parts = member_archives(archive)
        for index, member in enumerate(parts, start=1):
            name = f"{one} (member {index})" if len(parts) > 1 else str(one)
            members.append((name, one, _family_archive(name, member, family)))
    found = members[0][2]["task"]
    family_options(found).check("load", options)  # the family's declaration (treeseq.options)
    model_class = getattr(_recipes(found), _MODEL_CLASSES[found])
    _check_members(model_class, members)
    loaded = [_from_archive(model_class, name, archive, device, precision, one, options) for name, one, archive in members]
    if len(loaded) == 1:
        return loaded[0]  # type: ignore[no-any-return]
    return model_class.ensemble(loaded, paths[0] if len(paths) == 1 else None)  # type: ignore[no-any-return]


def _family_archive(name: str, archive: dict, family: str | None) -> dict:
    """The archive of the asked family: the archive itself, or the parser a tree model carries."""
    found = archive.get("task")
    if family == "parser" and found == "tree":
        if "parser" not in archive:
            raise CheckpointError(f"{name}: this tree model carries no parser (train it with --parser FILE)")
        archive, found = archive["parser"], "parser"
    if found not in FAMILIES:
        raise CheckpointError(f"{name}: unknown model family {found!r}")
    if family is not None and found != family:
        raise CheckpointError(f"{name}: this is a {found!r} model, expected a {family!r} model")
    return archive


def _check_members(model_class: Any, members: Sequence[tuple[str, Path, dict]]) -> None:
    """Ensemble members share their family, vocabularies and what the family declares (ensemble_match).

    Raises:
        ConfigError: one line naming the member and the first difference.
    """
    from treeseq.checkpoint import describe_difference  # noqa: PLC0415

    first_name, _, first = members[0]
    checks = (("model family", lambda a: a.get("task")), *model_class.ensemble_match,
              ("vocabularies", lambda a: a.get("vocabs")))  # fmt: skip
    for name, _, archive in members[1:]:
        for what, get in checks:
            difference = describe_difference(get(first), get(archive))
            if difference:
                raise ConfigError(f"{name} cannot join an ensemble with {first_name}: different {what} ({difference})")


def _from_archive(model_class: Any, name: str, archive: dict, device: str, precision: str, path: Path,
                  options: dict[str, Any]) -> Any:  # fmt: skip
    try:
        return model_class.from_archive(archive, device, precision, path=path, **options)
    except (KeyError, TypeError, RuntimeError, ValueError, IndexError, AttributeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise CheckpointError(f"{name}: a damaged {archive.get('task')} archive ({type(err).__name__}: {first})") from None


def train_one(family: FamilyName, data_dir: str | Path, output: str | Path, *, overwrite: bool = False,
              **options: Any) -> FitResult:  # fmt: skip
    """One training run of a family (see `treeseq.train`), owning its output for the whole run."""
    from treeseq.training.outputs import claim_output  # noqa: PLC0415

    recipes = _recipes(family)
    with claim_output(output, resume=bool(options.get("resume")), overwrite=overwrite):
        return recipes.train(data_dir, output, **options)  # type: ignore[no-any-return]


def evaluate(model: Model | ModelPath | Sequence[ModelPath], data_dir: str | Path, split: str | None = None, *, device: str = "auto",
             precision: str = "fp32", predictions: bool = False, **options: Any) -> Report:  # fmt: skip
    """The family's standard metrics for a model on a corpus split, in percent.

    Args:
        model: a loaded model (an ensemble too), the path of an archive, or a list of archives (an ensemble).
        split: the split's name (default: dev; val for translators).
        predictions: also return one result per evaluated sentence.
        options: tree classifiers: parse (score trees parsed from raw text); translators: beam.
            Language models report perplexity and bits per character (not percentages).

    Returns:
        A Report: metrics in percent, run facts, tables, and the predictions when asked for.
    """
    loaded = load(model, device, precision) if isinstance(model, (str, Path, list, tuple)) else model
    family = loaded.family
    family_options(family).check("evaluate", options)
    split = split or ("val" if family == "translator" else "dev")
    return _recipes(family).evaluate(loaded, data_dir, split, predictions=predictions, **options)


def average(paths: Sequence[ModelPath], output: ModelPath, *, overwrite: bool = False) -> Path:
    """Write the element-wise mean of the weights of model archives as one archive of their family.

    The archives must share their family, architecture, vocabularies and labels (the last K epochs of
    a run kept with `train.keep_last`, say, or the members of an ensemble archive, which count one by
    one). The result is an ordinary archive: every command and `load` take it.

    Args:
        paths: the archives to average.
        output: the averaged archive (written atomically).
        overwrite: replace an existing file at `output` (else refused).

    Returns:
        The output path.

    Raises:
        ConfigError: nothing to average, archives that differ (the first difference is named), or an
            existing output without `overwrite`.
    """
    from treeseq.checkpoint import load_archive, member_archives, save_atomic  # noqa: PLC0415
    from treeseq.training.average import average_archives  # noqa: PLC0415

    output = Path(output)
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: the file exists; choose another --output or pass --overwrite")
    archives, names = [], []
    for path in paths:
        parts = member_archives(load_archive(path))
        archives += parts
        names += [f"{path} (member {i})" if len(parts) > 1 else str(path) for i in range(1, len(parts) + 1)]
    save_atomic(average_archives(archives, names), output)
    return output

