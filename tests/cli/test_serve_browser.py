"""The page at / in a real headless browser (Chromium + chromedriver through Selenium): a sentence typed
in gives a labelled tree with its class bars (a long one fitted to the width), tags with the slots
marked by type, a translation with the attention heatmap and its scale, and a language model's samples
from a prompt; a screenshot of each view."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

import treeseq  # noqa: E402
from treeseq.serve.app import create_app  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_serve import Server  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> Any:
    binary = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    driver = shutil.which("chromedriver") or next((p for p in ("/usr/lib/chromium/chromedriver",) if os.path.exists(p)), None)
    if binary is None or driver is None:
        pytest.skip("no Chromium and chromedriver on this machine (.ci/run installs them: apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    runs, quiet = tmp_path_factory.mktemp("page"), {"progress": False, "device": "cpu"}
    treeseq.train("parser", SAMPLES / "sentiment", runs / "parser.pt", epochs=1, hidden_size=16,
                  overrides=["model.mlp_size=16", "model.embed_dim=8", "model.char_out=8"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=2, embed_dim=16, hidden_size=16,
                  parser=runs / "parser.pt", **quiet)  # fmt: skip
    treeseq.train("tagger", SAMPLES / "nlu", runs / "atis.pt", epochs=12, hidden_size=48, embed_dim=48, **quiet)  # finds slots
    treeseq.train("translator", SAMPLES / "parallel", runs / "de-en.pt", epochs=2, hidden_size=32, embed_dim=32,
                  vocab_size=300, batch_size=600, lr=0.01, overrides=["data.dev_subset=5"], **quiet)  # fmt: skip
    text = tmp_path_factory.mktemp("text")
    for split, name in (("train", "train"), ("dev", "val")):
        (text / f"{split}.txt").write_text((SAMPLES / "parallel" / f"{name}.en").read_text(encoding="utf-8"), encoding="utf-8")
    treeseq.train("lm", text, runs / "lm.pt", epochs=2, embed_dim=32, hidden_size=32, batch_size=4, overrides=["data.bptt=10"], **quiet)
    return {name: treeseq.load(runs / f"{name}.pt", "cpu") for name in ("sst", "atis", "de-en", "lm")}


def ask(driver: Any, model: str, text: str) -> None:
    from selenium.webdriver.support.ui import Select, WebDriverWait

    Select(driver.find_element("id", "model")).select_by_value(model)
    box = driver.find_element("id", "text")
    box.clear()
    box.send_keys(text)
    before = driver.find_element("id", "results").get_attribute("data-done")
    driver.find_element("id", "run").click()
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element("id", "results").get_attribute("data-done") not in (None, before)
        or d.find_element("id", "error").is_displayed()
    )
    assert not driver.find_element("id", "error").is_displayed(), driver.find_element("id", "error").text


def done(driver: Any, before: str | None) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(
        lambda d: d.find_element("id", "results").get_attribute("data-done") not in (None, before)
        or d.find_element("id", "error").is_displayed()
    )
    assert not driver.find_element("id", "error").is_displayed(), driver.find_element("id", "error").text


def generate(driver: Any, prompt: str, **options: Any) -> None:
    """Choose the language model, type a prompt and the options (the others keep their defaults), generate."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    Select(driver.find_element("id", "model")).select_by_value("lm")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements("id", "gen-samples"))
    for name, value in {"prompt": prompt, **{f"gen-{k}": v for k, v in options.items()}}.items():
        box = driver.find_element("id", name)
        box.clear()
        box.send_keys(str(value))
    before = driver.find_element("id", "results").get_attribute("data-done")
    driver.find_element("id", "generate").click()
    done(driver, before)


SCREENSHOTS = ("serve-tree.png", "serve-long-tree.png", "serve-tags.png", "serve-slots.png", "serve-translation.png",
               "serve-attention.png", "serve-generate.png")  # fmt: skip


def test_the_page_shows_trees_tags_and_translations(models: dict[str, Any], tmp_path: Path) -> None:
    import httpx
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser()
    try:
        with Server(create_app(models)) as url:
            driver.get(url + "/")
            WebDriverWait(driver, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true")
            assert len(driver.find_elements("css selector", "#model option")) == 4
            assert not driver.find_element("id", "generate-form").is_displayed()  # only for language models

            sentence = "The film is not <b>bad</b> at all."
            ask(driver, "sst", sentence)
            expected = models["sst"].predict([sentence])[0]
            nodes = driver.find_elements("css selector", ".result.tree svg g.node, .result svg g.node")
            assert len(nodes) == len(expected.nodes)
            assert sorted(n.get_attribute("data-label") for n in nodes) == sorted(n.label for n in expected.nodes)
            assert driver.find_elements("css selector", ".result b") == []  # the user's markup stayed text
            assert driver.find_element("css selector", ".result h2 .label").text == expected.label
            bars = driver.find_elements("css selector", ".result .bars .class-row")
            probs = [float(b.get_attribute("data-prob")) for b in bars]
            assert probs == sorted(probs, reverse=True) and len(bars) == len(expected.classes)  # the best class first
            assert bars[0].find_element("css selector", ".class-name").text == expected.label
            driver.save_screenshot(str(tmp_path / "serve-tree.png"))

            long = " ".join(["The film , which is long and slow but never dull ,"] * 4) + " works ."
            ask(driver, "sst", long)
            box = driver.find_element("css selector", ".result .tree")
            svg = box.find_element("css selector", "svg")
            root = svg.find_elements("css selector", "g.node")
            root = max(root, key=lambda g: int(g.get_attribute("data-node")))  # post-order: the root is numbered last
            edge = lambda e, side: driver.execute_script(f"return arguments[0].getBoundingClientRect().{side}", e)  # noqa: E731
            natural = float(svg.get_attribute("width"))
            assert natural > box.size["width"]  # wider than the page: scaled down to fit
            assert edge(svg, "right") <= edge(box, "right") + 1 and edge(root, "left") >= edge(box, "left")
            assert edge(root, "right") <= edge(box, "right")  # the root is in view, no scrolling
            assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
            driver.save_screenshot(str(tmp_path / "serve-long-tree.png"))

            flight = "show flights from boston to denver tomorrow"
            ask(driver, "atis", flight)
            tagged = models["atis"].predict([flight])[0]
            tokens = driver.find_elements("css selector", ".result .token")
            assert [t.find_element("css selector", ".word").text for t in tokens] == list(tagged.tokens)
            assert [t.get_attribute("data-tag") for t in tokens] == list(tagged.tags)
            assert driver.find_element("css selector", ".intent-label").text == tagged.intent
            driver.save_screenshot(str(tmp_path / "serve-tags.png"))
            slotted = "how much is a flight from boston to san francisco tomorrow"
            ask(driver, "atis", slotted)
            slots = models["atis"].predict([slotted])[0].slots
            marks = driver.find_elements("css selector", ".result .entities mark.entity")
            assert slots and len(marks) == len(slots)  # one merged span a slot, however many tokens it covers
            assert [m.get_attribute("data-type") for m in marks] == [s.type for s in slots]
            assert [m.find_element("css selector", ".entity-type").text.lower() for m in marks] == [s.type.lower() for s in slots]
            line = driver.find_element("css selector", ".result .entities").get_attribute("textContent")
            between = [slotted[a.end if a else 0 : b.start] + b.text + b.type for a, b in zip([None, *slots], slots)]
            assert line == "".join(between) + slotted[slots[-1].end :]  # the text as typed, each slot's type after it
            colours = {m.get_attribute("data-type"): m.value_of_css_property("background-color") for m in marks}
            assert len(set(colours.values())) == len(colours)  # a colour a type
            driver.save_screenshot(str(tmp_path / "serve-slots.png"))
            # A line of only U+001C..U+001F: blank for the server (str.isspace), so blank for the page too
            ask(driver, "atis", f"{flight}\n\x1c\x1d\x1e\x1f\n{flight}")
            assert len(driver.find_elements("css selector", ".result .intent-label")) == 2

            german = "Ein kleiner Hund spielt im Park ."
            ask(driver, "de-en", german)
            translated = models["de-en"].predict([german], beam=5, n_best=3)[0]
            assert driver.find_element("css selector", ".translation").text == translated.text.strip()
            assert len(driver.find_elements("css selector", ".nbest li")) == 3
            cells = driver.find_elements("css selector", "table.heatmap tbody td")
            assert len(cells) == len(translated.hypotheses[0].pieces) * len(translated.source_pieces)
            scale = driver.find_element("css selector", ".attention .scale")
            assert scale.find_element("css selector", ".scale-bar").is_displayed()
            assert [t.text for t in scale.find_elements("css selector", ".scale-ticks span")] == ["0", "0.25", "0.5", "0.75", "1"]
            driver.save_screenshot(str(tmp_path / "serve-translation.png"))
            driver.find_element("css selector", ".attention").screenshot(str(tmp_path / "serve-attention.png"))

            prompt = "A man in a <i>blue</i>"
            generate(driver, prompt, samples=3, max_tokens=12, seed=4)
            body = {"model": "lm", "prompt": prompt, "samples": 3, "max_tokens": 12, "seed": 4}
            records = httpx.post(url + "/v1/generate", json=body, timeout=60).json()["results"]
            shown = driver.find_elements("css selector", ".result.sample")
            assert len(shown) == len(records) == 3 and driver.find_elements("css selector", ".result i") == []
            for section, record in zip(shown, records):
                text = section.find_element("css selector", ".sample-text")
                assert text.get_attribute("textContent") == record["text"]  # the same samples as the HTTP records
                assert section.find_element("css selector", ".prompt").get_attribute("textContent") == prompt
            driver.save_screenshot(str(tmp_path / "serve-generate.png"))
            with pytest.raises(AssertionError, match="temperature must be from 0 to 100, got 101"):
                generate(driver, prompt, temperature=101)  # the server's sentence in the error box
    finally:
        driver.quit()
    for name in SCREENSHOTS:
        assert (tmp_path / name).stat().st_size > 5000
        if os.environ.get("TREESEQ_SCREENSHOTS"):  # refresh the docs' pictures: TREESEQ_SCREENSHOTS=docs/img
            shutil.copyfile(tmp_path / name, Path(os.environ["TREESEQ_SCREENSHOTS"]) / name)
