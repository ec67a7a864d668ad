"""The page at / in a real headless browser (Chromium + chromedriver through Selenium): a sentence typed
in gives a labelled tree, tags for every token and a translation; a screenshot of each view."""

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
    treeseq.train("tagger", SAMPLES / "nlu", runs / "atis.pt", epochs=4, hidden_size=24, embed_dim=24, **quiet)
    treeseq.train("translator", SAMPLES / "parallel", runs / "de-en.pt", epochs=2, hidden_size=32, embed_dim=32,
                  vocab_size=300, batch_size=600, lr=0.01, overrides=["data.dev_subset=5"], **quiet)  # fmt: skip
    return {name: treeseq.load(runs / f"{name}.pt", "cpu") for name in ("sst", "atis", "de-en")}


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


def test_the_page_shows_trees_tags_and_translations(models: dict[str, Any], tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser()
    try:
        with Server(create_app(models)) as url:
            driver.get(url + "/")
            WebDriverWait(driver, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true")
            assert len(driver.find_elements("css selector", "#model option")) == 3

            sentence = "The film is not <b>bad</b> at all."
            ask(driver, "sst", sentence)
            expected = models["sst"].predict([sentence])[0]
            nodes = driver.find_elements("css selector", ".result.tree svg g.node, .result svg g.node")
            assert len(nodes) == len(expected.nodes)
            assert sorted(n.get_attribute("data-label") for n in nodes) == sorted(n.label for n in expected.nodes)
            assert driver.find_elements("css selector", ".result b") == []  # the user's markup stayed text
            assert driver.find_element("css selector", ".result h2 .label").text == expected.label
            driver.save_screenshot(str(tmp_path / "serve-tree.png"))

            flight = "show flights from boston to denver tomorrow"
            ask(driver, "atis", flight)
            tagged = models["atis"].predict([flight])[0]
            tokens = driver.find_elements("css selector", ".result .token")
            assert [t.find_element("css selector", ".word").text for t in tokens] == list(tagged.tokens)
            assert [t.get_attribute("data-tag") for t in tokens] == list(tagged.tags)
            assert driver.find_element("css selector", ".intent-label").text == tagged.intent
            driver.save_screenshot(str(tmp_path / "serve-tags.png"))
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
            driver.save_screenshot(str(tmp_path / "serve-translation.png"))
    finally:
        driver.quit()
    for name in ("serve-tree.png", "serve-tags.png", "serve-translation.png"):
        assert (tmp_path / name).stat().st_size > 5000
        if os.environ.get("TREESEQ_SCREENSHOTS"):  # refresh the docs' pictures: TREESEQ_SCREENSHOTS=docs/img
            shutil.copyfile(tmp_path / name, Path(os.environ["TREESEQ_SCREENSHOTS"]) / name)
