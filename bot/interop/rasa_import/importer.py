"""``import_rasa``: read a Rasa project in order, then write the botdesk project.

The order matters: the domain and the NLU data come first, because rules, stories and
test stories are checked against the intents, responses, slots and forms they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, DataError
from bot.interop.rasa_import.config import read_config
from bot.interop.rasa_import.domain import domain_files, finish_forms, read_domain
from bot.interop.rasa_import.flows import read_flows
from bot.interop.rasa_import.nlu import read_nlu, report_intents
from bot.interop.rasa_import.notes import Note
from bot.interop.rasa_import.responses import read_responses
from bot.interop.rasa_import.state import YAML_SUFFIXES, Conversion
from bot.interop.rasa_import.tests import read_tests, read_tests_file
from bot.interop.rasa_import.writer import write_project
from bot.yamlio import line_of, load_yaml, to_plain

DATA_KEYS = ("version", "nlu", "rules", "stories", "responses")


@dataclass
class ImportResult:
    target: Path
    files: list[Path]
    notes: list[Note]


def import_rasa(source: Path, target: Path, force: bool = False) -> ImportResult:
    """Write the botdesk project for the Rasa project in ``source``; notes say what changed."""
    root = source.expanduser().resolve()
    if not root.is_dir():
        raise ConfigError(f"Rasa project directory {root} does not exist")
    if not domain_files(root) and not (root / "data").is_dir():
        raise ConfigError(f"{root} is not a Rasa project: no domain.yml, domain/ or data/")
    target = target.expanduser().resolve()
    if target.exists() and any(target.iterdir()) and not force:
        raise ConfigError(f"{target} is not empty; choose a new directory or use --force")
    conv = Conversion(root)
    read_config(conv)
    read_endpoints(conv)
    read_domain(conv)
    flow_sources = read_data(conv)
    if not conv.nlu_files:
        raise DataError("no NLU examples found (expected data/*.yml with 'nlu:')", root / "data")
    read_flows(conv, flow_sources)
    read_tests(conv)
    finish_forms(conv)
    files = write_project(conv, target)
    return ImportResult(target, files, conv.notes)


def read_endpoints(conv: Conversion) -> None:
    """endpoints.yml's action_endpoint, kept as written (``${VARIABLES}`` stay for run time)."""
    path = conv.root / "endpoints.yml"
    raw = load_yaml(path, ConfigError) if path.is_file() else None
    if not isinstance(raw, dict):
        return
    endpoint = raw.get("action_endpoint")
    if isinstance(endpoint, dict) and endpoint.get("url"):
        conv.endpoint = {k: to_plain(v) for k, v in endpoint.items()}
    for key in raw:
        if key != "action_endpoint" and raw.get(key):
            conv.note(
                "dropped",
                f"endpoints.yml: {key} is Rasa server configuration botdesk does not use",
                path,
                line_of(raw, [key]),
            )


def read_data(conv: Conversion) -> list[tuple[Path, Any]]:
    """NLU items, responses and test stories now; flows are returned for later (they check the NLU)."""
    flows: list[tuple[Path, Any]] = []
    for path in _data_files(conv.root):
        if path.suffix not in YAML_SUFFIXES:
            conv.note(
                "dropped",
                f"{path.suffix} training data is not read; convert it first (rasa data convert nlu -f yaml)",
                path,
            )
            continue
        raw = load_yaml(path, DataError)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise DataError("expected a mapping with nlu:, rules: or stories:", path, 1)
        if path.name.startswith("test_"):
            read_tests_file(conv, path, raw)
            continue
        read_responses(conv, raw.get("responses"), path)
        if raw.get("nlu"):
            read_nlu(conv, path, raw)
        if raw.get("rules") or raw.get("stories"):
            flows.append((path, raw))
        for key in (k for k in raw if k not in DATA_KEYS):
            conv.note("dropped", f"unknown top-level key '{key}' left out", path, line_of(raw, [key]))
    report_intents(conv)
    return flows


def _data_files(root: Path) -> list[Path]:
    directory = root / "data"
    if not directory.is_dir():
        return []
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in (*YAML_SUFFIXES, ".md", ".json")
    )
