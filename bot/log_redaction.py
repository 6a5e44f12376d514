"""Validation errors reach the log without the values that failed: no password, no customer text.

A pydantic ``ValidationError`` (and FastAPI's request, response and WebSocket validation
errors) prints every failed value as ``'input': ...``: the password of a refused login, a
customer's message, a response full of customer data. The server's own handlers answer
and log these errors without their inputs (``bot.server.validation_errors``); this module
is the net under everything else: once ``install()`` ran, every log record of the process,
whichever logger writes it (uvicorn's "Exception in ASGI application", a library, ours),
shows a validation error as its locations, messages and types only:

- an argument of the message (``log.error("bad: %s", exc)``) or the message itself;
- the exception it carries (``exc_info``), anywhere in the chain of causes: the record
  gets its traceback rendered with the error's summary in place of its text, and no
  longer carries the exception object, so no handler can render it again.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from fastapi.exceptions import ValidationException
from pydantic import ValidationError

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_installed = False


def install() -> None:
    """Redact validation errors in every log record created from now on (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redact(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True


def redact(record: logging.LogRecord) -> None:
    """Replace the validation errors in ``record`` (message, arguments, exception) by their summaries."""
    if is_validation_error(record.msg):
        record.msg = summary(record.msg)
    if isinstance(record.args, tuple) and any(is_validation_error(arg) for arg in record.args):
        record.args = tuple(summary(arg) if is_validation_error(arg) else arg for arg in record.args)
    elif isinstance(record.args, dict) and any(is_validation_error(arg) for arg in record.args.values()):
        record.args = {k: summary(v) if is_validation_error(v) else v for k, v in record.args.items()}
    info = record.exc_info
    if info and info[1] is not None and any(is_validation_error(exc) for exc in chain(info[1])):
        record.exc_text = "".join(format_exception(info[1])).rstrip("\n")
        record.exc_info = None


def is_validation_error(value: object) -> bool:
    return isinstance(value, ValidationError | ValidationException)


def summary(error: Any) -> str:
    """What a validation error may show: each failure's location, message and type, never its input."""
    errors: Sequence[Any] = error.errors()
    parts = []
    for item in errors[:20]:
        if isinstance(item, dict):
            where = ".".join(str(part) for part in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg', '')} [type={item.get('type', '?')}]")
    more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
    title = getattr(error, "title", None) or type(error).__name__
    return f"{len(errors)} validation error(s) for {title}: " + "; ".join(parts) + more


def chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, each once."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__])
    return seen


def format_exception(exc: BaseException, _seen: set[int] | None = None) -> list[str]:
    """``traceback.format_exception`` for ``exc`` and its chain, validation errors by their summary."""
    seen = _seen if _seen is not None else set()
    seen.add(id(exc))
    lines: list[str] = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += format_exception(cause, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += format_exception(context, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if exc.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines += traceback.format_tb(exc.__traceback__)
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    text = summary(exc) if is_validation_error(exc) else str(exc)
    lines.append(f"{name}: {text}\n" if text else f"{name}\n")
    return lines
