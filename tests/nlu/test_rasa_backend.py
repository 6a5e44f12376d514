"""RasaNLU against a local fake of Rasa's HTTP API (/model/parse) on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bot.errors import NLUError
from bot.nlu.pipeline import Pipeline
from bot.settings import ComponentSpec


class FakeRasa(BaseHTTPRequestHandler):
    """Answers like `rasa run --enable-api` does; 'boom' makes it fail with 500."""

    requests: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.requests.append({"path": self.path, "body": body})
        if body["text"] == "boom":
            self.send_response(500)
            self.end_headers()
            return
        text = body["text"]
        known = "доставка" in text
        answer = {
            "text": text,
            "intent": {"name": "delivery_terms" if known else "greet", "confidence": 0.93 if known else 0.31},
            "entities": [
                {"entity": "city", "start": 0, "end": 6, "value": "Казань", "extractor": "DIETClassifier"}
            ]
            if text.startswith("Казань")
            else [],
            "intent_ranking": [
                {"name": "delivery_terms" if known else "greet", "confidence": 0.93 if known else 0.31},
                {"name": "greet" if known else "thanks", "confidence": 0.05 if known else 0.29},
            ],
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def rasa_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def rasa_pipeline(url: str, token_env: str | None = None) -> Pipeline:
    rasa = {"name": "RasaNLU", "url": url, "timeout": 2}
    if token_env:
        rasa["token_env"] = token_env
    specs = [
        ComponentSpec.model_validate(s) for s in (rasa, {"name": "FallbackClassifier", "threshold": 0.5})
    ]
    return Pipeline("ru", specs)


def test_rasa_answer_drives_botdesk(rasa_url: str) -> None:
    result = rasa_pipeline(rasa_url).parse_dict("Казань: доставка есть?")
    assert result["intent"] == {"name": "delivery_terms", "confidence": 0.93}
    assert result["entities"][0]["value"] == "Казань"
    assert [r["name"] for r in result["intent_ranking"]] == ["delivery_terms", "greet"]


def test_botdesk_fallback_applies_to_rasa_confidence(rasa_url: str) -> None:
    message = rasa_pipeline(rasa_url).parse("что-то непонятное")
    assert message.intent is not None and message.intent.name == "nlu_fallback"
    # Rasa ranks greet 0.31 and thanks 0.29: under the threshold, and the two compete.
    assert message.fallback_reason == "ambiguous"


def test_token_comes_from_the_environment(rasa_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_TOKEN_FOR_TEST", "s3cret")
    FakeRasa.requests.clear()
    rasa_pipeline(rasa_url, "RASA_TOKEN_FOR_TEST").parse("привет")
    assert FakeRasa.requests[-1]["path"] == "/model/parse?token=s3cret"


def test_rasa_server_error_is_clear(rasa_url: str) -> None:
    with pytest.raises(NLUError, match="HTTP 500"):
        rasa_pipeline(rasa_url).parse("boom")


def test_rasa_server_down_is_clear() -> None:
    with pytest.raises(NLUError, match="unreachable"):
        rasa_pipeline("http://127.0.0.1:9").parse("привет")
