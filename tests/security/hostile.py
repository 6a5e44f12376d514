"""Hypothesis strategies for hostile and malformed customer text, shared by the property tests.

Each strategy draws what real clients have sent chat bots: random Unicode (lone
surrogates included), nothing, only whitespace, megabytes, binary bytes read as text,
and mixtures of scripts, emoji, right-to-left text and stacked combining marks.
"""

from __future__ import annotations

from hypothesis import strategies as st

ONE_MEGABYTE = 1024 * 1024

# Fragments a mixed-script message is built from: words from several scripts, emoji
# sequences (ZWJ, flags, skin tones), bidi controls, combining marks, zero-width characters.
FRAGMENTS = [
    "доставка",
    "сколько стоит",
    "delivery",
    "Привет!",
    "مرحبا كم السعر",
    "שלום, מה המחיר",
    "配送はいつですか",
    "배송",
    "ราคาเท่าไหร่",
    "😀",
    "👩‍👩‍👧‍👦",
    "🇷🇺",
    "👍🏽",
    "e\u0301\u0302\u0303\u0304",
    "Z\u0334\u0321\u0322a\u0336l\u0337g\u0338o\u0335",
    "\u202eтекст наоборот\u202c",
    "\u200b\u200c\u200d\u2060",
    "\ufeff",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
    "{{7*7}}",
    "/operator",
    "/",
    "\\x00",
    "%s%n%x",
    "8 (999) 123-45-67",
]

WHITESPACE = " \t\n\r\x0b\x0c\u00a0\u1680\u2000\u2001\u2007\u2028\u2029\u202f\u205f\u3000"

any_unicode = st.text(st.characters(exclude_categories=()), max_size=200)
"""Any code point, lone surrogates (category Cs) included."""

printable_unicode = st.text(st.characters(codec="utf-8"), max_size=300)
empty_or_blank = st.text(st.sampled_from(WHITESPACE), max_size=40)
binary_text = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))
mixed_script = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12).map(" ".join)
huge = st.sampled_from(["я" * ONE_MEGABYTE, "a" * ONE_MEGABYTE, "😀" * (ONE_MEGABYTE // 4), "\x00" * 5000])

hostile_text = st.one_of(any_unicode, printable_unicode, empty_or_blank, binary_text, mixed_script, huge)
"""Everything above: what the property tests feed to every entry point."""
