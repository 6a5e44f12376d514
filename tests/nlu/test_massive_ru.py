"""benchmarks/massive_ru.py turns the MASSIVE release's ru-RU file into botdesk's JSON lines."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from benchmarks.massive_ru import convert
from bot.nlu.data import load_jsonl


def _archive(path: Path, records: list[dict[str, object]]) -> Path:
    payload = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode("utf-8")
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("1.1/data/ru-RU.jsonl", payload), ("1.1/data/en-US.jsonl", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_splits_follow_the_partitions(tmp_path: Path) -> None:
    records = [
        {"partition": "train", "utt": "разбуди меня в семь", "intent": "alarm_set"},
        {"partition": "train", "utt": "какая погода", "intent": "weather_query"},
        {"partition": "dev", "utt": "поставь будильник", "intent": "alarm_set"},
        {"partition": "test", "utt": "будет ли дождь", "intent": "weather_query"},
        {"partition": "test", "utt": "  ", "intent": "weather_query"},
    ]
    counts = convert(_archive(tmp_path / "massive.tar.gz", records), tmp_path / "out")
    assert counts == {"train": 2, "valid": 1, "test": 1}
    assert load_jsonl(tmp_path / "out" / "test.jsonl") == [("будет ли дождь", "weather_query")]
    assert ("поставь будильник", "alarm_set") in load_jsonl(tmp_path / "out" / "valid.jsonl")
