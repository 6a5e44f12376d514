"""The VK channel's section of config.yml (``channels.vk``); its secrets: the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bot.channels.base import ChannelOptions


class VkSettings(ChannelOptions):
    """Community messages in VK (docs/channels/vk.md). It runs when VK_GROUP_TOKEN is set.

    The token comes only from the environment (``VK_GROUP_TOKEN``), the Callback API's
    secret key from ``VK_CALLBACK_SECRET``; the community id and the confirmation string
    may be set here or in ``VK_GROUP_ID`` / ``VK_CONFIRMATION_CODE`` (the environment wins).
    """

    enabled: bool = Field(default=True, description="False: ignore VK_GROUP_TOKEN")
    mode: Literal["longpoll", "callback"] = Field(
        default="longpoll",
        description="longpoll: one process asks VK (no public URL); callback: VK POSTs to /webhooks/vk",
    )
    group_id: int | None = Field(
        default=None, gt=0, description="The community's id; default: the one the token belongs to"
    )
    confirmation_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9]+$",
        description="Callback API: the string VK asks the server to return (Settings > API > Callback API)",
    )
    api_version: str = Field(default="5.199", pattern=r"^5\.\d{1,3}$", description="VK API version sent")
    keyboard: Literal["reply", "inline"] = Field(
        default="reply",
        description="Response buttons as a keyboard under the input field (reply) or under the message",
    )
    one_time: bool = Field(default=True, description="reply keyboards hide after one press")
    poll_wait_seconds: int = Field(
        default=25, ge=1, le=90, description="Long Poll: how long one request waits"
    )
    catch_up_hours: int = Field(
        default=24,
        ge=0,
        le=168,
        description="Long Poll: on a new session, answer dialogues left unanswered this recently (0: off)",
    )
    flood_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Errors 6/9 in a row waited out before a message waits for redelivery",
    )
    requests_per_second: int = Field(
        default=20, ge=1, le=20, description="API calls per second at most (VK allows 20 for a community)"
    )
