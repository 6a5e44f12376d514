"""Make the Russian benchmark set from the MASSIVE release: train/valid/test JSON lines.

    python benchmarks/massive_ru.py amazon-massive-dataset-1.1.tar.gz ../shared/datasets/massive_ru

MASSIVE (FitzGerald et al., 2022; Amazon, CC BY 4.0) is 1M utterances of a voice
assistant's 60 intents in 51 languages, translated and localised by people from the
English SLURP set; its ``ru-RU`` part has 11,514 training, 2,033 validation and 2,974
test utterances. botdesk neither ships nor downloads it: get the release archive (the
project's GitHub page links it), then run this script, which reads ``data/ru-RU.jsonl``
from the archive (``partition``, ``utt``, ``intent``) and writes ``train.jsonl``,
``valid.jsonl`` and ``test.jsonl`` as ``{"text", "intent"}`` lines for
``benchmarks/nlu.py`` and ``botdesk nlu evaluate --train/--test``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

PARTITIONS = {"train": "train", "dev": "valid", "test": "test"}
MEMBER_SUFFIX = "data/ru-RU.jsonl"
MAX_MEMBER_BYTES = 200 * 1024 * 1024


def convert(archive: Path, target: Path, locale_suffix: str = MEMBER_SUFFIX) -> dict[str, int]:
    """Write the splits of one locale; returns the number of lines per split."""
    lines: dict[str, list[str]] = {name: [] for name in PARTITIONS.values()}
    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if m.isfile() and m.name.endswith(locale_suffix)), None)
        if member is None:
            raise SystemExit(f"{archive}: no {locale_suffix} inside; is it the MASSIVE release?")
        if member.size > MAX_MEMBER_BYTES:
            raise SystemExit(f"{archive}: {member.name} is larger than expected")
        handle = tar.extractfile(member)
        assert handle is not None
        for raw in handle:
            record = json.loads(raw)
            split = PARTITIONS.get(str(record.get("partition")))
            if split is None:
                continue
            text, intent = str(record["utt"]).strip(), str(record["intent"])
            if text:
                lines[split].append(json.dumps({"text": text, "intent": intent}, ensure_ascii=False))
    target.mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        (target / f"{split}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {split: len(rows) for split, rows in lines.items()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("archive", type=Path, help="amazon-massive-dataset-1.0.tar.gz or 1.1")
    parser.add_argument(
        "target", type=Path, help="folder for train/valid/test.jsonl, e.g. ../shared/datasets/massive_ru"
    )
    args = parser.parse_args()
    counts = convert(args.archive, args.target)
    print(", ".join(f"{split}: {n}" for split, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
