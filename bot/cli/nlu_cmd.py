"""``botdesk nlu parse``, ``botdesk nlu evaluate`` and ``botdesk nlu not-ours``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.cli import nlu_app
from bot.cli.options import JsonOption, ProjectOption, step_progress
from bot.editor.annotate import mark_not_ours
from bot.errors import ConfigError
from bot.nlu.data import load_jsonl
from bot.nlu.defaults import default_pipeline
from bot.nlu.evaluate import (
    Evaluation,
    best_accuracy_threshold,
    cross_validate,
    holdout_split,
    summarise,
    train_and_predict,
)
from bot.nlu.report import write_report
from bot.project import Project
from bot.settings import CONFIG_FILE

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@nlu_app.command("parse")
def parse(
    text: Annotated[
        str | None, typer.Argument(help="Message to parse; without it, one message per line from stdin.")
    ] = None,
    project_dir: ProjectOption = Path("."),
    as_json: JsonOption = False,
) -> None:
    """Parse messages with the trained model (Rasa /model/parse JSON shape)."""
    pipeline = Project.open(project_dir).load_pipeline()
    if text is None:
        for line in sys.stdin:
            line = line.rstrip("\n")
            if line.strip():
                sys.stdout.write(json.dumps(pipeline.parse_dict(line), ensure_ascii=False) + "\n")
        return
    result = pipeline.parse_dict(text)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    intent = result["intent"]
    console.print(
        f"[bold]{intent['name']}[/] {intent['confidence']:.3f}"
        + (f"  (fallback: {result['fallback_reason']})" if "fallback_reason" in result else ""),
        highlight=False,
    )
    for item in result["intent_ranking"][1:5]:
        console.print(f"  [dim]{item['name']} {item['confidence']:.3f}[/]", highlight=False)
    for entity in result["entities"]:
        console.print(f"  entity [cyan]{entity['entity']}[/] = {entity['value']!r}", highlight=False)


@nlu_app.command("evaluate")
def evaluate(
    project_dir: ProjectOption = Path("."),
    folds: Annotated[int, typer.Option(help="Cross-validation folds on the project data.", min=2)] = 5,
    train_file: Annotated[
        Path | None, typer.Option("--train", help="External training data (JSON lines).")
    ] = None,
    test_file: Annotated[
        Path | None,
        typer.Option("--test", help="Test data (JSON lines); without --train the project's data trains."),
    ] = None,
    valid_file: Annotated[
        Path | None, typer.Option("--valid", help="Validation data: the fallback threshold is chosen here.")
    ] = None,
    holdout: Annotated[
        float | None,
        typer.Option(
            help="Hold this share of the project's data out (stratified) and test on it.", min=0.05, max=0.5
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="A fixed fallback threshold; default: the one the pipeline chose.", min=0.0, max=1.0
        ),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language for external data without a project (ru/en).")
    ] = None,
    target_precision: Annotated[
        float | None,
        typer.Option(help="Find the threshold reaching this precision, e.g. 0.95.", min=0.0, max=1.0),
    ] = None,
    report_dir: Annotated[
        Path, typer.Option("--report", help="Directory for the Markdown report and pictures.")
    ] = Path("reports"),
    as_json: JsonOption = False,
) -> None:
    """Measure the NLU: cross-validation, a held-out share, or --train/--test(/--valid) data."""
    if valid_file is not None and test_file is None:
        raise ConfigError("--valid needs --test")
    if train_file is not None and test_file is None:
        raise ConfigError("--train needs --test")
    if holdout is not None and test_file is not None:
        raise ConfigError("--holdout tests on the project's own data: leave out --test")
    specs, lang, project = _pipeline_for(project_dir, language, external=train_file is not None)
    with step_progress(err_console, "evaluating", disable=as_json) as step:
        if test_file is not None:
            if train_file is not None:
                train = load_jsonl(train_file)
                source = train_file.name
            else:
                assert project is not None
                train = [(e.text, e.intent) for e in project.data.examples]
                source = "the project's data"
            splits = [load_jsonl(test_file)] + ([load_jsonl(valid_file)] if valid_file else [])
            data = project.data if project is not None and train_file is None else None
            predictions, seconds, _ = train_and_predict(lang, specs, train, splits, step, data=data)
            if valid_file is not None:
                threshold = best_accuracy_threshold(predictions[1])
            mode = f"train {source}, test {test_file.name}" + (
                f", threshold chosen on {valid_file.name}" if valid_file else ""
            )
            result = summarise(mode, predictions[0], threshold, seconds, target_precision)
        elif holdout is not None:
            assert project is not None
            train_part, test_part = holdout_split(project.data, holdout)
            test_pairs = [(e.text, e.intent) for e in test_part.examples]
            predictions, seconds, _ = train_and_predict(lang, specs, [], [test_pairs], step, data=train_part)
            mode = f"{holdout:.0%} of the project's data held out (stratified), trained on the rest"
            result = summarise(mode, predictions[0], threshold, seconds, target_precision)
        else:
            assert project is not None
            oof, seconds = cross_validate(lang, specs, project.data, folds, step)
            result = summarise(
                f"stratified {folds}-fold cross-validation", oof, threshold, seconds, target_precision
            )
    report = write_report(result, report_dir, "NLU evaluation")
    if as_json:
        print(json.dumps(result.headline(), ensure_ascii=False))
        return
    _show(result)
    console.print(f"Report: {report}", highlight=False)


@nlu_app.command("not-ours")
def not_ours(
    texts: Annotated[
        list[str] | None,
        typer.Argument(help="Messages the shop does not answer; without them, one per line from stdin."),
    ] = None,
    project_dir: ProjectOption = Path("."),
) -> None:
    """Add messages to the bot's out-of-scope intent (intents/out_of_scope.yml); then retrain."""
    project = Project.open(project_dir)
    lines = texts if texts else [line.strip() for line in sys.stdin if line.strip()]
    if not lines:
        raise ConfigError("give the messages as arguments or one per line on stdin")
    intent = project.config.editor.out_of_scope_intent
    result = mark_not_ours(project.intents_dir, lines, project.config.language, intent)
    console.print(
        f"{len(result.added)} added to {intent} in {result.path.name}"
        + (f", {len(result.skipped)} skipped" if result.skipped else "")
        + "; run `botdesk train` to use them",
        highlight=False,
    )
    for text, why in result.skipped.items():
        console.print(f"  [dim]skipped {text!r}: {why}[/]", highlight=False)


def _pipeline_for(
    project_dir: Path, language: str | None, external: bool
) -> tuple[list, str, Project | None]:  # type: ignore[type-arg]
    has_project = (project_dir / CONFIG_FILE).is_file()
    if not has_project and not external:
        Project.open(project_dir)  # raises the clear "no config.yml" error
    if has_project:
        project = Project.open(project_dir)
        config = project.config
        return list(config.pipeline), language or config.language, project
    return default_pipeline(), language or "en", None


def _show(result: Evaluation) -> None:
    table = Table(title=f"NLU evaluation ({result.mode})", show_header=False)
    for key, value in result.headline().items():
        if value is not None:
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if result.confused_pairs:
        pairs = Table(title="Most confused (gold -> predicted)")
        pairs.add_column("gold")
        pairs.add_column("predicted")
        pairs.add_column("count", justify="right")
        for gold, predicted, count in result.confused_pairs[:5]:
            pairs.add_row(gold, predicted, str(count))
        console.print(pairs)
