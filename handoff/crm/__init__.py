"""CRM side of botdesk: lead cards and the adapters that deliver them.

The outbox worker needs only this surface: build the configured adapter with
:func:`build_adapter`, ``await adapter.push(card)``, and on :class:`CRMTemporaryError`
wait :func:`retry_delay` before the next attempt; :class:`CRMPermanentError` parks the card.
"""

from handoff.crm.base import (
    AdapterOptions,
    BaseAdapter,
    CRMAdapter,
    CRMError,
    CRMPermanentError,
    CRMTemporaryError,
    LeadCard,
    PushResult,
    TranscriptLine,
    mask_phone,
    next_backoff,
    retry_delay,
    to_e164,
)
from handoff.crm.registry import (
    CRMSpec,
    adapter_class,
    build_adapter,
    build_options,
    check_spec,
    known_adapters,
    register_adapter,
)
from handoff.crm.webhook import WebhookAdapter, WebhookOptions, sign, verify_signature

__all__ = [
    "AdapterOptions",
    "BaseAdapter",
    "CRMAdapter",
    "CRMError",
    "CRMPermanentError",
    "CRMSpec",
    "CRMTemporaryError",
    "LeadCard",
    "PushResult",
    "TranscriptLine",
    "WebhookAdapter",
    "WebhookOptions",
    "adapter_class",
    "build_adapter",
    "build_options",
    "check_spec",
    "known_adapters",
    "mask_phone",
    "next_backoff",
    "register_adapter",
    "retry_delay",
    "sign",
    "to_e164",
    "verify_signature",
]
