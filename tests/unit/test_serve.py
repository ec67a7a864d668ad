"""`treeseq.serve`: every endpoint and error code over HTTP, and dynamic batching under many clients."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

import treeseq  # noqa: E402
from treeseq.errors import CorpusFormatError  # noqa: E402
from treeseq.serve.app import ServeSettings, create_app  # noqa: E402
from treeseq.serve.batching import InProcess, Limits, ModelWorker, Overloaded  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with")  # starlette's TestClient on httpx
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
SENTENCES = ["flights from boston to denver", "show me fares to dallas tomorrow", "cheapest flight to atlanta",
             "what is the earliest flight from denver", "list flights to boston on monday", "a b c"]  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    runs, quiet = tmp_path_factory.mktemp("serve"), {"progress": False, "device": "cpu"}
    treeseq.train("parser", SAMPLES / "sentiment", runs / "parser.pt", epochs=1, hidden_size=16,
                  overrides=["model.mlp_size=16", "model.embed_dim=8", "model.char_out=8"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=1, embed_dim=12, hidden_size=12,
                  parser=runs / "parser.pt", **quiet)  # fmt: skip
    treeseq.train("tagger", SAMPLES / "nlu", runs / "nlu.pt", epochs=1, hidden_size=8, embed_dim=8, **quiet)
    treeseq.train("translator", SAMPLES / "parallel", runs / "de-en.pt", epochs=1, hidden_size=16, embed_dim=16,
                  vocab_size=300, batch_size=600, overrides=["data.dev_subset=5"], **quiet)  # fmt: skip
    return {name: treeseq.load(runs / f"{name}.pt", "cpu") for name in ("sst", "parser", "nlu", "de-en")}


@pytest.fixture(scope="module")
def client(models: dict[str, Any]) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(create_app(models, ServeSettings(max_body_bytes=4096, max_texts=8))) as test_client:
        yield test_client


def close(a: Any, b: Any, tolerance: float = 2e-3) -> bool:
    """Records equal, floats within rounding noise (a batch's padding can move the last digit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tolerance
    return a == b


def test_health_models_and_openapi(client: Any) -> None:
    assert client.get("/health").json() == {"status": "ok", "models": ["sst", "parser", "nlu", "de-en"]}
    listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert listed["sst"]["family"] == "tree" and listed["sst"]["labels"][0] == "very negative"
    assert listed["sst"]["config"]["hidden_size"] == 12 and listed["nlu"]["kind"] == "nlu" and listed["nlu"]["intents"]
    assert listed["de-en"]["options"] == ["beam", "n_best", "alpha", "max_len_ratio", "attention"]
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/v1/models", "/v1/predict", "/v1/render"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "<title>treeseq</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").status_code == 200


def test_predict_gives_the_jsonl_records_in_order(client: Any, models: dict[str, Any]) -> None:
    texts = ["flights to boston", "", "  ", "cheapest fare to dallas"]
    answer = client.post("/v1/predict", json={"model": "nlu", "texts": texts})
    assert answer.status_code == 200
    records = answer.json()["results"]
    assert records[1] == {} and records[2] == {}  # a blank text: {} as in --format jsonl
    expected = [r.to_dict() for r in models["nlu"].predict([texts[0], texts[3]])]
    assert close(records[0], expected[0]) and close(records[3], expected[1])
    tree = client.post("/v1/predict", json={"model": "sst", "texts": ["A good film."]}).json()["results"][0]
    assert close(tree, models["sst"].predict(["A good film."])[0].to_dict())
    brackets = client.post("/v1/predict", json={"model": "sst", "texts": ["(2 (2 A) (2 film))"], "brackets": True}).json()
    assert brackets["results"][0]["tokens"] == ["A", "film"] and "text" not in brackets["results"][0]
    options = {"beam": 2, "n_best": 2, "attention": True}
    translated = client.post("/v1/predict", json={"model": "de-en", "texts": ["Ein Hund ."], **options}).json()["results"][0]
    assert close(translated, models["de-en"].predict(["Ein Hund ."], **options)[0].to_dict())
    assert len(translated["translations"]) == 2 and "attention" in translated["translations"][0]


def test_render_draws_the_cli_svg(client: Any) -> None:
    drawn = client.post("/v1/render", json={"model": "sst", "text": "A <b>good</b> film."})
    assert drawn.status_code == 200 and drawn.headers["content-type"].startswith("image/svg+xml")
    nodes = client.post("/v1/predict", json={"model": "sst", "texts": ["A <b>good</b> film."]}).json()["results"][0]["nodes"]
    assert drawn.text.count('<g class="node"') == len(nodes) and "<b>" not in drawn.text  # user text escaped
    parse = client.post("/v1/render", json={"model": "parser", "text": "A good film."})
    assert parse.status_code == 200 and parse.text.count('<g class="node dot"') == 2 * 4 - 1  # a dot a node:
    assert "data-label" not in parse.text and "1.00" not in parse.text  # no "X 1.00" box on an unlabelled parse
    refused = client.post("/v1/render", json={"model": "nlu", "text": "flights"})
    assert refused.status_code == 422 and "draws no tree" in refused.json()["error"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"model": "nope", "texts": ["a"]}, 404, "unknown model 'nope'; serving: sst, parser, nlu, de-en"),
    ({"model": "nlu", "texts": "a"}, 422, "texts: Input should be a valid list"),
    ({"model": "nlu"}, 422, "texts: Field required"),
    ({"model": "nlu", "texts": ["a"], "beam": 2}, 422, "beam applies to translator models; this is a tagger model (it takes tokenized)"),
    ({"model": "nlu", "texts": ["a"], "bem": 2}, 422, "bem: Extra inputs are not permitted"),
    ({"model": "de-en", "texts": ["a"], "beam": 2, "n_best": 3}, 422, "beam size 2 and n-best 3: need 1 <= n-best <= beam"),
    ({"model": "de-en", "texts": ["a"], "beam": 0}, 422, "beam must be from 1 to 64, got 0"),
    ({"model": "de-en", "texts": ["a"], "beam": "5"}, 422, "beam must be an integer, got '5'"),
    ({"model": "nlu", "texts": ["a"] * 9}, 422, "9 texts: at most 8 a request"),
    ({"model": "nlu", "texts": ["a", "", "b " * 1001]}, 422, "texts:3: 1001 tokens is over the tagger's limit of 1000"),
    ({"model": "sst", "texts": ["...", "b " * 400]}, 422, "texts:2: 400 tokens is over"),
])  # fmt: skip
def test_errors_are_one_json_line_with_the_right_status(client: Any, body: dict, status: int, message: str) -> None:
    answer = client.post("/v1/predict", json=body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"} and message in answer.json()["error"], answer.json()
    assert "Traceback" not in answer.text


def test_bodies_over_the_limit_and_broken_json_are_refused(client: Any) -> None:
    big = client.post("/v1/predict", json={"model": "nlu", "texts": ["word " * 1000]})
    assert big.status_code == 413 and big.json() == {"error": "request body over the limit of 4,096 bytes"}
    chunked = client.post("/v1/predict", content=iter([b'{"model": "nlu", "texts": ["', b"x" * 5000, b'"]}']))
    assert chunked.status_code == 413  # no Content-Length: counted while it streams
    broken = client.post("/v1/predict", content=b'{"model": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["error"].startswith("the body is not valid JSON")
    assert client.get("/v2/nothing").json() == {"error": "Not Found"}
    assert client.get("/v1/predict").status_code == 405


class Gate:
    """A fake tagger whose predict waits until the test opens the gate (to fill the queue)."""

    family, labels = "tagger", ("X",)

    def __init__(self) -> None:
        self.entered, self.gate, self.calls = threading.Event(), threading.Event(), []

    def predict(self, texts: list[str], **options: Any) -> list[Any]:
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(10)
        if any("bad" in t for t in texts):
            raise CorpusFormatError("texts:1: bad text")
        return [Echo(t) for t in texts]


class Echo:
    def __init__(self, text: str) -> None:
        self.text = text

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text}


def texts_of(outcome: Any) -> list[str]:
    return [json.loads(record)["text"] for record in outcome.records]


def test_the_worker_merges_requests_and_a_bad_one_fails_alone() -> None:
    model = Gate()
    worker = ModelWorker("gate", [InProcess(model, Limits())], max_wait_ms=50, max_queue=3)
    first = worker.submit(["one"])
    assert model.entered.wait(5)  # the worker is busy with the first request; the next ones queue up
    queued = [worker.submit(["two", "three"]), worker.submit(["bad four"]), worker.submit(["five"], {"tokenized": True})]
    with pytest.raises(Overloaded, match="busy"):
        worker.submit(["six"])
    model.gate.set()
    assert texts_of(first.result(5)) == ["one"]
    assert texts_of(queued[0].result(5)) == ["two", "three"]
    bad = queued[1].result(5)
    assert bad.status == 422 and "bad text" in bad.error
    assert texts_of(queued[2].result(5)) == ["five"]
    assert ["two", "three", "bad four"] in model.calls  # merged; then re-run request by request
    assert ["five"] in model.calls  # other options: a batch of its own
    worker.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A real uvicorn server on 127.0.0.1 in a thread, with the service's connection guard."""

    def __init__(self, app: Any, header_timeout: float = 10.0, max_connections: int = 1024) -> None:
        import uvicorn

        from treeseq.serve.protocol import guarded_protocol

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    http=guarded_protocol(header_timeout, max_connections)))  # fmt: skip
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(20)


def test_many_concurrent_clients_each_get_their_own_answers(models: dict[str, Any]) -> None:
    app = create_app({"nlu": models["nlu"], "sst": models["sst"]}, ServeSettings(max_wait_ms=10, max_queue_wait_ms=0))
    clients, rounds = 24, 4
    answers: dict[tuple[int, int], Any] = {}
    errors: list[BaseException] = []

    def client_loop(number: int, url: str) -> None:
        try:
            with httpx.Client(base_url=url, timeout=60) as http:
                for turn in range(rounds):
                    texts = [f"{SENTENCES[(number + turn + k) % len(SENTENCES)]} {number} {turn}" for k in range(1 + number % 3)]
                    model = "sst" if (number + turn) % 4 == 0 else "nlu"
                    answer = http.post("/v1/predict", json={"model": model, "texts": texts})
                    answers[number, turn] = (model, texts, answer.status_code, answer.json())
        except BaseException as err:  # noqa: BLE001 - reported by the test below
            errors.append(err)

    with Server(app) as url:
        threads = [threading.Thread(target=client_loop, args=(n, url)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert not errors and len(answers) == clients * rounds
    for model, texts, status, body in answers.values():
        assert status == 200 and body["model"] == model
        expected = [r.to_dict() for r in models[model].predict(texts)]
        assert [r["text"] for r in body["results"]] == texts  # nothing lost, nothing mixed
        assert all(close(got, want) for got, want in zip(body["results"], expected))
    stats = app.state.workers["nlu"].stats
    assert stats.largest_batch > 1 and stats.requests == sum(1 for m, *_ in answers.values() if m == "nlu")


def test_a_full_queue_answers_503(models: dict[str, Any]) -> None:
    model = Gate()
    app = create_app({"gate": model}, ServeSettings(max_queue=1, max_wait_ms=0))
    with Server(app) as url:
        results: list[Any] = []
        post = lambda text: results.append(httpx.post(f"{url}/v1/predict", json={"model": "gate", "texts": [text]}, timeout=30))  # noqa: E731
        first = threading.Thread(target=post, args=("one",))
        first.start()
        assert model.entered.wait(10)
        second = threading.Thread(target=post, args=("two",))
        second.start()
        deadline = time.monotonic() + 10
        while app.state.workers["gate"].queue.qsize() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = httpx.post(f"{url}/v1/predict", json={"model": "gate", "texts": ["three"]}, timeout=30)
        model.gate.set()
        first.join(10)
        second.join(10)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1" and "busy" in refused.json()["error"]
    assert sorted(r.json()["results"][0]["text"] for r in results) == ["one", "two"]


@pytest.mark.parametrize("name", ["sst", "parser", "nlu", "de-en"])
def test_a_lone_surrogate_is_refused_with_its_position_by_every_model_kind(client: Any, name: str) -> None:
    body = '{"model": "' + name + '", "texts": ["fine", "x \\ud800 y"]}'
    answer = client.post("/v1/predict", content=body.encode(), headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json() == {"error": "texts:2:3: a lone surrogate U+D800 is not valid Unicode"}
    render = client.post("/v1/render", content=b'{"model": "sst", "text": "\\udcff"}', headers={"content-type": "application/json"})
    assert render.status_code == 422 and render.json()["error"] == "text:1: byte 0xff is not valid UTF-8"


@pytest.mark.parametrize(("body", "message"), [
    (b"[" * 200_000, "the body is not valid JSON (nested more than 100 levels deep at character 101)"),
    (b'{"model": "nlu", "texts": ["a"], "beam": ' + b"9" * 5000 + b"}", "the body is not valid JSON (a number of 5,000 digits (at most 100) at character 42)"),
    (b'{"model": "nlu", "texts": ["caf\xe9"]}', "the body is not UTF-8: byte 0xe9 at byte 32"),
    (b'{"model": "nlu", "texts": ["a", 3]}', "texts:2: Input should be a valid string"),
])  # fmt: skip
def test_bad_bodies_are_422_with_where_the_problem_is(models: dict[str, Any], body: bytes, message: str) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app({"nlu": models["nlu"]}, ServeSettings(max_body_bytes=1 << 20))) as big:
        answer = big.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422 and answer.json() == {"error": message}


def test_a_requests_cost_and_its_answers_size_are_bounded(models: dict[str, Any]) -> None:
    from fastapi.testclient import TestClient

    text = " ".join(["Ein Hund läuft durch den Park ."] * 17)  # about 120 words
    cost = models["de-en"].cost([text], beam=32, attention=True)
    with TestClient(create_app({"de-en": models["de-en"]}, ServeSettings(max_cost=cost - 1, max_answer_bytes=2000))) as small:
        refused = small.post("/v1/predict", json={"model": "de-en", "texts": [text], "beam": 32, "attention": True})
        assert refused.status_code == 413 and refused.json()["error"].startswith(f"the request would cost {cost:,} units of work")
        big = small.post("/v1/predict", json={"model": "de-en", "texts": ["Ein Hund ."] * 8, "beam": 4, "n_best": 4, "attention": True})
        assert big.status_code == 413 and "bytes, over the limit of 2,000" in big.json()["error"]
        fine = small.post("/v1/predict", json={"model": "de-en", "texts": ["Ein Hund ."]})
        assert fine.status_code == 200
        listed = small.get("/v1/models").json()
    assert listed["limits"]["max_cost"] == cost - 1 and re.fullmatch(listed["blank"], "\x1c \u3000")


def test_one_blank_line_definition_for_the_page_and_the_server(client: Any) -> None:
    import sys

    from treeseq.text import BLANK_CHARACTERS

    assert BLANK_CHARACTERS == "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    pattern = client.get("/v1/models").json()["blank"]
    assert all(bool(re.fullmatch(pattern, chr(c))) == chr(c).isspace() for c in range(0x3100))
    answer = client.post("/v1/predict", json={"model": "nlu", "texts": ["flights to boston", "\x1c", "\x1f\x1e "]}).json()
    assert answer["results"][1:] == [{}, {}]
    assert "blank.test(line)" in client.get("/static/app.js").text  # the page filters with the server's pattern


def test_errors_never_close_the_connection_and_half_open_ones_time_out(models: dict[str, Any]) -> None:
    app = create_app({"nlu": models["nlu"]}, ServeSettings(body_timeout_s=0.5))
    good = b'{"model": "nlu", "texts": ["flights to boston"]}'
    bad = b'{"model": "nlu", "texts": ["x \\ud800 y"]}'

    def request(body: bytes) -> bytes:
        return b"POST /v1/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)

    with Server(app, header_timeout=0.5, max_connections=3) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # one connection, a bad request then a good one
            sock.sendall(request(bad))
            first = read_response(sock)
            sock.sendall(request(good))
            second = read_response(sock)
        assert first.startswith(b"HTTP/1.1 422") and second.startswith(b"HTTP/1.1 200") and b'"tags"' in second
        half = socket.create_connection(("127.0.0.1", port), timeout=10)
        half.sendall(b"POST /v1/predict HTTP/1.1\r\nhost: x\r\n")  # headers never finished
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(request(good)[:-10])  # the body never finished
        start = time.monotonic()
        assert half.recv(100) == b"" and time.monotonic() - start < 5  # closed by the server
        assert read_response(slow).startswith(b"HTTP/1.1 408")
        extra = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
        extra[-1].sendall(request(good))
        assert read_response(extra[-1]).startswith(b"HTTP/1.1 503")  # over the cap of 3 open connections
        for sock in (half, slow, *extra):
            sock.close()


def read_response(sock: socket.socket) -> bytes:
    """One HTTP response (headers and a Content-Length body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_a_queue_whose_wait_would_pass_the_deadline_answers_503_with_retry_after() -> None:
    model = Gate()
    worker = ModelWorker("gate", [InProcess(model, Limits())], max_wait_ms=0, max_queue_wait_ms=200)
    worker._recent.extend([(10, 1.0)] * 3)  # measured: 0.1 s a word
    first = worker.submit(["one"])
    assert model.entered.wait(5)
    queued = worker.submit(["a b"])  # 0.2 s of work queued: within the deadline
    with pytest.raises(Overloaded) as shed:
        worker.submit(["c d e"])  # 0.5 s
    assert shed.value.retry_after == 1 and "busy (about 0.5 s of work queued)" in str(shed.value) and worker.stats.shed == 1
    model.gate.set()
    assert first.result(5).status == 200 and queued.result(5).status == 200
    worker.close()


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny word language model trained on the English side of the parallel samples (its archive)."""
    text = tmp_path_factory.mktemp("text")
    (text / "train.txt").write_text((SAMPLES / "parallel" / "train.en").read_text(encoding="utf-8"), encoding="utf-8")
    (text / "dev.txt").write_text((SAMPLES / "parallel" / "val.en").read_text(encoding="utf-8"), encoding="utf-8")
    output = tmp_path_factory.mktemp("lm") / "lm.pt"
    treeseq.train("lm", text, output, epochs=1, embed_dim=16, hidden_size=16, batch_size=4, overrides=["data.bptt=10"],
                  progress=False, device="cpu")  # fmt: skip
    return output


@pytest.fixture(scope="module")
def lm_client(lm: Path, models: dict[str, Any]) -> Any:
    from fastapi.testclient import TestClient

    with TestClient(create_app({"lm": treeseq.load(lm, "cpu"), "nlu": models["nlu"]})) as test_client:
        yield test_client


def cli_samples(path: Path, *args: str) -> list[dict[str, Any]]:
    """What `treeseq generate -f jsonl` prints, as records."""
    from typer.testing import CliRunner

    from treeseq.cli.main import app

    result = CliRunner().invoke(app, ["generate", "-m", str(path), "--device", "cpu", "-f", "jsonl", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_generate_gives_the_records_of_the_generate_command(lm_client: Any, lm: Path) -> None:
    for seed in (3, 11):
        body = {"model": "lm", "prompt": "A man in a", "samples": 3, "max_tokens": 8, "seed": seed, "temperature": 0.9,
                "top_k": 20, "top_p": 0.95}  # fmt: skip
        answer = lm_client.post("/v1/generate", json=body)
        assert answer.status_code == 200, answer.text
        expected = cli_samples(lm, "--prompt", "A man in a", "--samples", "3", "--max-tokens", "8", "--seed", str(seed),
                               "--temperature", "0.9", "--top-k", "20", "--top-p", "0.95")  # fmt: skip
        assert answer.json() == {"model": "lm", "results": expected}
        assert [r["sample"] for r in expected] == [0, 1, 2] and all(r["text"].startswith("A man in a") for r in expected)
    defaults = lm_client.post("/v1/generate", json={"model": "lm", "seed": 5}).json()["results"]
    assert defaults == cli_samples(lm, "--seed", "5") and len(defaults) == 1  # the declared defaults, as on the command line
    schema = lm_client.get("/openapi.json").json()["paths"]["/v1/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert list(schema["properties"]) == ["model", "prompt", "samples", "max_tokens", "temperature", "top_k", "top_p", "seed"]
    assert schema["properties"]["samples"]["default"] == 1 and schema["properties"]["top_p"]["exclusiveMinimum"] == 0


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"model": "nlu", "prompt": "a"}, 422, "a tagger model does not generate text; generate takes language models (lm)"),
    ({"model": "lm", "temperature": 101}, 422, "temperature must be from 0 to 100, got 101"),
    ({"model": "lm", "top_p": 0}, 422, "top_p must be > 0 and <= 1, got 0"),
    ({"model": "lm", "samples": 2.5}, 422, "samples must be an integer, got 2.5"),
    ({"model": "lm", "tempreature": 1}, 422, "tempreature: Extra inputs are not permitted"),
    ({"model": "lm", "texts": ["a"]}, 422, "texts: Extra inputs are not permitted"),
    ({"model": "nope"}, 404, "unknown model 'nope'; serving: lm, nlu"),
    ({"model": "lm", "prompt": "a " * 10_001}, 422, "prompt: 10001 tokens is over the language model's limit of 10000"),
])  # fmt: skip
def test_generate_refuses_with_the_sentence_of_every_surface(lm_client: Any, body: dict, status: int, message: str) -> None:
    answer = lm_client.post("/v1/generate", json=body)
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == {"error"} and message in answer.json()["error"], answer.json()


def test_the_command_line_refuses_with_the_same_sentence(lm: Path) -> None:
    from typer.testing import CliRunner

    from treeseq.cli.main import app

    result = CliRunner().invoke(app, ["generate", "-m", str(lm), "--device", "cpu", "--temperature", "101"])
    assert result.exit_code == 2 and "--temperature must be from 0 to 100, got 101" in result.output


def test_generate_is_bounded_by_the_cost_budget_and_the_answer_cap(lm: Path) -> None:
    from fastapi.testclient import TestClient

    from treeseq.serve.app import Served
    from treeseq.serve.process import ModelProcess

    model = treeseq.load(lm, "cpu")
    cost = model.generate_cost("A dog", samples=4, max_tokens=100)
    assert cost == 4 * 100 + 2
    settings = ServeSettings(max_cost=cost - 1, max_answer_bytes=1000)
    with TestClient(create_app({"lm": model}, settings)) as small:
        refused = small.post("/v1/generate", json={"model": "lm", "prompt": "A dog", "samples": 4, "max_tokens": 100})
        assert refused.status_code == 413
        assert refused.json()["error"] == (f"the request would cost {cost:,} units of work, over the limit of {cost - 1:,} "
                                           "(see GET /v1/models: cost); ask for fewer samples or a smaller max_tokens")  # fmt: skip
        big = small.post("/v1/generate", json={"model": "lm", "samples": 20, "max_tokens": 20, "seed": 1})
        assert big.status_code == 413 and "bytes, over the limit of 1,000; ask for fewer samples" in big.json()["error"]
    # A model in a process of its own (treeseq serve's default) answers the same records
    process = ModelProcess(lm, settings.limits, threads=1)
    try:
        with TestClient(create_app({"lm": Served(process.summary, [process])}, settings)) as separate:
            body = {"model": "lm", "prompt": "A dog", "samples": 2, "max_tokens": 6, "seed": 7}
            answer = separate.post("/v1/generate", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"] == [s.to_dict() for s in model.generate(**{k: v for k, v in body.items() if k != "model"})]
            assert separate.post("/v1/generate", json={**body, "samples": 4, "max_tokens": 100}).status_code == 413
    finally:
        process.close()
