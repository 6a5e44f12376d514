"""The e-mail channel's settings: config.yml's section checked at load, passwords from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels.email.env import email_credentials, is_local
from bot.channels.email.options import EmailChannelSettings
from bot.channels.registry import configured_channels
from bot.errors import ConfigError
from bot.project import load_checked_config
from tests.helpers.projects import REPO, write

GOOD = (REPO / "config.yml").read_text(encoding="utf-8")
SECTION = """channels:
  email:
    address: Shop@VeloMarket.example
    imap:
      host: imap.yandex.ru
"""


def config_with(tmp_path: Path, section: str) -> Path:
    return write(tmp_path / "config.yml", GOOD.replace("channels:\n", section, 1))


def settings(**values: object) -> EmailChannelSettings:
    return EmailChannelSettings.model_validate({"address": "shop@velomarket.example", **values})


def test_a_configured_section_is_the_channels_options(tmp_path: Path) -> None:
    config = load_checked_config(config_with(tmp_path, SECTION))
    (email,) = [c for c in configured_channels(config) if c.name == "email"]
    options = email.options
    assert isinstance(options, EmailChannelSettings)
    assert options.address == "shop@velomarket.example"  # compared in lower case
    assert (options.imap.port, options.imap.security, options.imap.mailbox) == (993, "ssl", "INBOX")
    assert options.smtp_host == "smtp.yandex.ru"  # the IMAP host's twin, unless given
    assert options.imap_username == options.smtp_username == "shop@velomarket.example"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (SECTION + "      prot: 993\n", "unknown option 'prot' for email.imap; did you mean 'port'?"),
        (SECTION + "      port: 99999\n", "email.imap.port"),
        (SECTION + "      security: starttls\n", "email.imap.security"),
        (SECTION.replace("Shop@VeloMarket.example", "not an address"), "an e-mail address such as"),
        (SECTION + "    poll_seconds: 0\n", "email.poll_seconds"),
        (SECTION + "      password: secret\n", "'password' looks like a secret"),
    ],
)
def test_a_wrong_section_is_one_sentence_with_its_line(tmp_path: Path, section: str, expected: str) -> None:
    path = config_with(tmp_path, section)
    with pytest.raises(ConfigError) as caught:
        configured_channels(load_checked_config(path), path)
    assert expected in str(caught.value)
    assert caught.value.line is not None


def test_without_address_host_or_password_the_channel_stays_off() -> None:
    env = {"EMAIL_IMAP_PASSWORD": "app password"}
    assert email_credentials(EmailChannelSettings(), env) is None
    assert email_credentials(settings(), env) is None  # no IMAP host
    assert email_credentials(settings(imap={"host": "imap.mail.ru"}), {}) is None
    found = email_credentials(settings(imap={"host": "imap.mail.ru"}), env)
    assert found is not None
    assert found.imap_password == found.smtp_password == "app password"
    assert "app password" not in repr(found)
    other = email_credentials(settings(imap={"host": "imap.mail.ru"}), {**env, "EMAIL_SMTP_PASSWORD": "smtp"})
    assert other is not None and other.smtp_password == "smtp"


@pytest.mark.parametrize(
    "values",
    [
        {"imap": {"host": "imap.example.com", "security": "plain"}},
        {"imap": {"host": "imap.example.com"}, "smtp": {"host": "smtp.example.com", "security": "plain"}},
    ],
)
def test_a_password_never_goes_unencrypted_to_another_machine(values: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="unencrypted"):
        email_credentials(settings(**values), {"EMAIL_IMAP_PASSWORD": "x"})


def test_plain_is_for_this_machine_only() -> None:
    local = settings(imap={"host": "127.0.0.1", "security": "plain"}, smtp={"security": "plain"})
    assert email_credentials(local, {"EMAIL_IMAP_PASSWORD": "x"}) is not None
    assert is_local("localhost") and is_local("::1") and is_local("127.0.0.2")
    assert not is_local("10.0.0.1") and not is_local("mail.example.com")


def test_a_password_must_be_one_line() -> None:
    with pytest.raises(ConfigError, match="one line"):
        email_credentials(settings(imap={"host": "imap.mail.ru"}), {"EMAIL_IMAP_PASSWORD": "a\nb"})
