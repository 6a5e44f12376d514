"""The local services some tests need (PostgreSQL, Redis): are they there?"""

from __future__ import annotations

import contextlib
import socket

import pytest

REDIS = ("127.0.0.1", 6379)


def redis_problem() -> str | None:
    """Why Redis cannot be used, or None when it can."""
    with contextlib.suppress(OSError), socket.create_connection(REDIS, timeout=1):
        return None
    return "Redis is not running at 127.0.0.1:6379"


needs_redis = pytest.mark.skipif(redis_problem() is not None, reason="Redis is not running at 127.0.0.1:6379")
