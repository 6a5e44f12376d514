"""An HTML mail body as plain text, with the standard library's ``html.parser``.

Most clients send a plain-text part beside the HTML one and botdesk reads that; some
(and many web forms) send HTML alone. The HTML is only tokenised here, never rendered
or run: scripts, styles and the head are dropped with their content, blocks and ``<br>``
become line breaks, list items "- " lines, and quoted history becomes ``> `` lines
(``<blockquote>``) or is cut where a client marks where the quoted mail starts (Gmail's
``gmail_quote``, Outlook's ``divRplyFwdMsg``, Thunderbird's ``moz-cite-prefix``), so that
``quotes.strip_reply`` treats it as it treats quoted plain text. The input is cut to a
size limit before parsing; the parser keeps no state beyond the current tag stack.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 1_000_000
_SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe", "xml"}
_PARAGRAPHS = {"p", "table", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address", "form"}
_LINES = {"div", "section", "article", "header", "footer", "tr", "dt", "dd", "center", "fieldset", "li"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
_QUOTE_MARKERS = re.compile(
    r"gmail_quote|yahoo_quoted|moz-cite-prefix|divRplyFwdMsg|appendonsend|OLK_SRC_BODY_SECTION|"
    r"mail-quote-collapse|js-helper-quote|zmail_extra",
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.skipping = 0  # depth inside script/style/...
        self.quote_depth = 0
        self.pre = 0
        self.cut = False  # the quoted history started: nothing after it is the customer's
        self.stack: list[str] = []

    # ---- structure ------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.cut:
            return
        if tag not in _VOID:
            self.stack.append(tag)
        if tag in _SKIP:
            self.skipping += 1
            return
        if self.skipping:
            return
        marker = " ".join(value or "" for name, value in attrs if name in {"class", "id"})
        cite = tag == "blockquote" and any(n == "type" and (v or "").lower() == "cite" for n, v in attrs)
        if cite or (marker and _QUOTE_MARKERS.search(marker)):
            self._end_line()  # a quoted message, as mail clients mark it: the rest is history
            self.cut = True
            return
        if tag == "br":
            self._end_line(keep_empty=True)
        elif tag == "li":
            self._end_line()
            self.current.append("- ")
        elif tag == "blockquote":
            self._end_paragraph()
            self.quote_depth += 1
        elif tag == "pre":
            self._end_paragraph()
            self.pre += 1
        elif tag in {"td", "th"}:
            if self.current and self.current[-1].strip():
                self.current.append(" ")
        elif tag in _PARAGRAPHS:
            self._end_paragraph()
        elif tag in _LINES:
            self._end_line()

    def handle_endtag(self, tag: str) -> None:
        if self.cut or tag in _VOID or tag not in self.stack:
            return  # a stray end tag
        while self.stack:  # close what was left open inside it, as browsers do
            top = self.stack.pop()
            if top in _SKIP:
                self.skipping -= 1
            elif not self.skipping:
                if top == "blockquote":
                    self._end_paragraph()
                    self.quote_depth = max(0, self.quote_depth - 1)
                elif top == "pre":
                    self._end_paragraph()
                    self.pre = max(0, self.pre - 1)
                elif top in _PARAGRAPHS:
                    self._end_paragraph()
                elif top in _LINES:
                    self._end_line()
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.cut or self.skipping:
            return
        if self.pre:
            for index, piece in enumerate(data.split("\n")):
                if index:
                    self._end_line(keep_empty=True)
                self.current.append(piece)
            return
        self.current.append(_SPACES.sub(" ", data.replace("\n", " ")))

    # ---- output ---------------------------------------------------------------------------
    def _end_line(self, keep_empty: bool = False) -> None:
        line = "".join(self.current)
        line = line.rstrip() if self.pre else _SPACES.sub(" ", line).strip()
        self.current = []
        if line or keep_empty:
            prefix = "> " * self.quote_depth
            self.lines.append((prefix + line).rstrip())

    def _end_paragraph(self) -> None:
        self._end_line()
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        self._end_line()
        out: list[str] = []
        for line in self.lines:
            if line == "" and (not out or out[-1] == ""):
                continue
            out.append(line)
        return "\n".join(out).strip()


def html_to_text(html: str) -> str:
    """The readable text of an HTML body: no markup, scripts or styles; quoted history marked or cut.

    >>> html_to_text("<p>Здравствуйте!</p><p>Где мой <b>заказ</b>?<script>x()</script></p>")
    'Здравствуйте!\\n\\nГде мой заказ?'
    """
    maker = _TextMaker()
    try:
        maker.feed(html[:MAX_HTML_CHARS])
        maker.close()
    except (AssertionError, ValueError):  # a malformed declaration: keep what was read
        pass
    return maker.text()
