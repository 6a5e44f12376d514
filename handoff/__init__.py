"""Operator queue, panel, lead cards and CRM adapters (built on top of ``bot``)."""
