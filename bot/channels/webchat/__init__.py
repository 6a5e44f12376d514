"""The web chat widget channel (``"web"``): the site's chat window (docs/widget.md).

``protocol``: the WebSocket frames and the open sockets; ``widget``: the options and what
the widget shows on a page; ``transcripts``: a copy of the dialogue by e-mail; ``files``:
attachments both ways (``/widget/files``);
``channel``: ``WebChatChannel``, its routes, its socket, the demo shop page.
"""

from bot.channels.webchat.channel import WebChatChannel
from bot.channels.webchat.protocol import CHANNEL, MAX_FRAME_CHARS, Visitors, WebChatError
from bot.channels.webchat.widget import WebChatOptions, WidgetInvitation, allowed_origin

__all__ = [
    "CHANNEL",
    "MAX_FRAME_CHARS",
    "Visitors",
    "WebChatChannel",
    "WebChatError",
    "WebChatOptions",
    "WidgetInvitation",
    "allowed_origin",
]
