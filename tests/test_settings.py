"""config.yml validation: every bad input is one clear message with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.project import load_checked_config
from tests.helpers.projects import REPO, write

GOOD = (REPO / "config.yml").read_text(encoding="utf-8")


def error_for(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path / "config.yml", text)
    with pytest.raises(ConfigError) as caught:
        load_checked_config(path)
    return caught.value


def test_default_config_loads() -> None:
    config = load_checked_config(REPO / "config.yml")
    assert config.language == "ru"
    assert set(config.intents.human_only) == {"complaint", "human_request", "order_cancel", "change_order"}
    assert set(config.intents.buying_interest) == {
        "price_request",
        "product_availability",
        "callback_request",
        "delivery_terms",
    }


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    err = error_for(tmp_path, "language: ru\npipeline:\n  - name: SpacyTokenizer\n   bad: [\n")
    assert err.line in (3, 4, 5)
    assert "broken YAML" in str(err)
    assert str(err).startswith(str(tmp_path / "config.yml"))


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("\nlanguage: ru", "\nlanguag: ru"))
    assert "unknown key 'languag'" in str(err)
    assert "did you mean 'language'" in str(err)
    assert err.line == GOOD.splitlines().index("language: ru") + 1


def test_unknown_nested_key(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("  label:", "  lable:"))
    assert "unknown key 'lable' in bot" in str(err) and "did you mean 'label'" in str(err)
    assert err.line is not None


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("language: ru", "language: 12"))
    assert "language" in str(err) and "'ru' or 'en'" in str(err)
    assert err.line == GOOD.splitlines().index("language: ru") + 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_checked_config(tmp_path / "config.yml")


def test_unknown_component_with_hint(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("- name: FallbackClassifier", "- name: FalbackClassifier"))
    assert "unknown pipeline component 'FalbackClassifier'" in str(err)
    assert "did you mean 'FallbackClassifier'" in str(err)
    assert "@register_component" in str(err)


def test_unknown_component_option(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("    target_precision: 0.95", "    target_precison: 0.95"))
    assert "unknown option 'target_precison' for FallbackClassifier" in str(err)
    assert "did you mean 'target_precision'" in str(err)
    assert err.line == next(
        i for i, line in enumerate(GOOD.splitlines(), 1) if "target_precision: 0.95" in line
    )


def test_component_option_of_wrong_type(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("target_precision: 0.95", "target_precision: high"))
    assert "FallbackClassifier.target_precision" in str(err)


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD + "\nchannels_token: abc\n")
    assert "secret" in str(err) and "environment" in str(err)


def test_database_password_is_refused(tmp_path: Path) -> None:
    err = error_for(tmp_path, GOOD.replace("sqlite:///botdesk.db", "postgresql://bot:hunter2@db/botdesk"))
    assert "BOTDESK_DATABASE_URL" in str(err)


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_checked_config(REPO / "config.yml")
    monkeypatch.setenv("BOTDESK_DATABASE_URL", "postgresql://bot:secret@127.0.0.1/test")
    assert config.database_url() == "postgresql://bot:secret@127.0.0.1/test"


def test_cli_prints_one_line_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "config.yml", GOOD.replace("\nlanguage: ru", "\nlanguag: ru"))
    code = main(["train", "--project", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "did you mean 'language'" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_cli_without_project_explains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--project", str(tmp_path)]) == 2
    assert "botdesk init" in capsys.readouterr().err


def test_crm_adapter_is_checked_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("crm: []", "crm:\n  - adapter: webhok\n    url: http://127.0.0.1:8088/leads")
    err = error_for(tmp_path, text)
    assert "did you mean 'webhook'" in str(err)
    assert err.line == text.splitlines().index("  - adapter: webhok") + 1


def test_crm_webhook_config_loads(tmp_path: Path) -> None:
    text = GOOD.replace(
        "crm: []", "crm:\n  - adapter: webhook\n    url: http://127.0.0.1:8088/leads\n    secret_env: null"
    )
    config = load_checked_config(write(tmp_path / "config.yml", text))
    assert config.crm[0].adapter == "webhook"


def test_a_refused_value_is_shown_without_the_password_it_holds(tmp_path: Path) -> None:
    """The error may be printed or logged whole: a database URL's password is masked in it."""
    text = GOOD.replace("url: sqlite:///botdesk.db", "url: postgresql://bot:S3cret-pw@db/botdesk")
    error = error_for(tmp_path, text)
    assert "S3cret-pw" not in str(error)
    assert "BOTDESK_DATABASE_URL" in str(error) and "postgresql://***@db/botdesk" in str(error)


def test_the_server_limits_are_checked(tmp_path: Path) -> None:
    assert load_checked_config(REPO / "config.yml").server.max_body_bytes == 1024 * 1024
    error = error_for(tmp_path, GOOD.replace("  body_limits: {}", "  body_limits: {api/uploads: 20971520}"))
    assert "path prefix starting with '/'" in str(error) and error.line is not None
    error = error_for(tmp_path, GOOD.replace("  max_connections: 2048", "  max_connections: 0"))
    assert "server.max_connections" in str(error)
