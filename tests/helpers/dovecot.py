"""A real IMAP server for the e-mail channel's tests: Debian's dovecot, on 127.0.0.1, in a temp dir.

``make dovecot`` (a dependency of ``make test``) installs the ``dovecot-imapd`` package;
nothing of the system's own dovecot configuration is used or changed. Each ``Dovecot``
runs its own master process (``dovecot -F -c <its config>``) on a free loopback port,
with plain-text logins of the users in a passwd-file and maildirs under its temp dir, and
stops it by its process id. Run as root, mail is stored as ``nobody`` (dovecot refuses
uid 0 for mail) and the login processes run as ``dovenull``, as the package sets up.

``SmtpSink`` is the other half of a mail system: an aiosmtpd server on 127.0.0.1 that
keeps every message it is given and delivers the ones for a dovecot user into that user's
INBOX (IMAP APPEND), as a mail server would.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.helpers.processes import free_port

DOVECOT_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
START_SECONDS = 20.0


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((path for path in DOVECOT_PATHS if os.access(path, os.X_OK)), None)


def dovecot_problem() -> str | None:
    """Why a dovecot cannot be started here, or None."""
    if dovecot_binary() is None:
        return "dovecot is not installed: `make dovecot` installs Debian's dovecot-imapd"
    if os.geteuid() == 0:
        for user in ("nobody", "dovenull"):
            try:
                pwd.getpwnam(user)
            except KeyError:
                return f"the system user {user!r} is missing (the dovecot-core package creates dovenull)"
    return None


class Dovecot:
    """One dovecot master process serving IMAP on 127.0.0.1:``port`` for ``users`` (address -> password)."""

    def __init__(self, users: dict[str, str], port: int | None = None) -> None:
        self.users = dict(users)
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="botdesk-dovecot-"))
        self.process: subprocess.Popen[bytes] | None = None

    # ---- life cycle ----------------------------------------------------------------------
    def start(self) -> Dovecot:
        binary = dovecot_binary()
        assert binary is not None, dovecot_problem()
        self.root.chmod(0o755)  # the mail user (not root) must reach its maildir below
        for name in ("run", "state", "mail"):
            (self.root / name).mkdir()
        mail_user, login_user, internal_user = self._users()
        uid, gid = pwd.getpwnam(mail_user).pw_uid, pwd.getpwnam(mail_user).pw_gid
        os.chown(self.root / "mail", uid, gid)
        passwd = self.root / "passwd"
        passwd.write_text("".join(f"{user}:{{PLAIN}}{pw}\n" for user, pw in self.users.items()))
        passwd.chmod(0o644)
        group = grp.getgrgid(gid).gr_name
        (self.root / "dovecot.conf").write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                mail_user=mail_user,
                mail_group=group,
                login_user=login_user,
                internal_user=internal_user,
                internal_group=grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name,
            )
        )
        log = (self.root / "stdout.log").open("wb")
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(self.root / "dovecot.conf")], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self._wait_ready()
        return self

    def _users(self) -> tuple[str, str, str]:
        """(mail owner, login process user, internal user): never root for the first two."""
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid()).pw_name
            return me, me, me
        internal = "dovecot"
        try:
            pwd.getpwnam(internal)
        except KeyError:
            internal = "nobody"
        return "nobody", "dovenull", internal

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start:\n{self.log()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not answer on port {self.port} in {START_SECONDS} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        parts = []
        for name in ("stdout.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    # ---- mailboxes -------------------------------------------------------------------------
    @contextlib.contextmanager
    def imap(self, user: str) -> Any:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            client.login(user, self.users[user])
            client.select("INBOX")
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def deliver(self, user: str, raw: bytes) -> None:
        """Put a message into ``user``'s INBOX, unread, as a mail server's delivery would."""
        with self.imap(user) as client:
            typ, data = client.append("INBOX", None, None, raw)
            assert typ == "OK", data

    def messages(self, user: str) -> list[Mail]:
        """``user``'s INBOX, oldest first, with each message's flags."""
        found = []
        with self.imap(user) as client:
            typ, data = client.uid("SEARCH", None, "ALL")  # type: ignore[arg-type]
            assert typ == "OK"
            for uid in (data[0] or b"").split():
                typ, parts = client.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")  # type: ignore[arg-type]
                assert typ == "OK"
                literal = next(part for part in parts if isinstance(part, tuple))
                head = b" ".join(p if isinstance(p, bytes) else p[0] for p in parts)
                flags = imaplib.ParseFlags(head) or ()
                found.append(Mail(int(uid), {f.decode() for f in flags}, parse(literal[1])))
        return found

    def empty(self, user: str) -> None:
        with self.imap(user) as client:
            typ, data = client.search(None, "ALL")
            if typ == "OK" and data[0]:
                client.store("1:*", "+FLAGS", r"(\Deleted)")
                client.expunge()


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass(frozen=True)
class Mail:
    uid: int
    flags: set[str]
    message: EmailMessage

    @property
    def seen(self) -> bool:
        return "\\Seen" in self.flags


class _Keeper:
    """aiosmtpd's handler: keep each message; deliver it to dovecot users; refuse on request."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.sink.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        with self.sink.lock:
            self.sink.received.append(Sent(envelope.mail_from or "", list(envelope.rcpt_tos), parse(raw)))
        for rcpt in envelope.rcpt_tos:
            if self.sink.dovecot is not None and rcpt.lower() in self.sink.dovecot.users:
                self.sink.dovecot.deliver(rcpt.lower(), raw)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class Sent:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it is given (``received``) and delivers to dovecot.

    It offers AUTH PLAIN/LOGIN without TLS (loopback only) and accepts the logins of
    dovecot's users, as a provider's submission server does; mail without a login is
    taken too (the customers' side of the test). ``logins`` records who logged in.
    """

    def __init__(self, dovecot: Dovecot | None = None) -> None:
        self.dovecot = dovecot
        self.port = free_port()
        self.received: list[Sent] = []
        self.refused: set[str] = set()
        self.logins: list[str] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        users = self.dovecot.users if self.dovecot is not None else {}
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if users.get(login) == password:
                self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def start(self) -> SmtpSink:
        self.controller = Controller(
            _Keeper(self),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        """Down: connections to the port are refused until ``start`` again."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [s.message for s in self.received if address in s.rcpt_tos]


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
mail_uid = {mail_user}
mail_gid = {mail_group}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal_user}
  }}
  unix_listener stats-writer {{
    user = {internal_user}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/mail/%u
}}
"""
