"""The Telegram channel's test secret."""

from __future__ import annotations

SECRET = "test-webhook-secret_123"
