"""Shared pieces of the CRM tests: a realistic lead card and a real stub server."""

from __future__ import annotations
