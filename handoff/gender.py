"""The grammatical gender a sentence about an operator agrees with: "Анна подключилась", "Борис подключился".

An account may say it (``grammatical_gender``, set by the operator in the panel or by an
admin). Otherwise a Russian first name tells it: pymorphy3 (already loaded for the NLU)
knows first names and their gender ("Анна" feminine, "Борис" masculine, "Саша" either).
When neither says, the texts use their neutral wording ("С вами на связи оператор Анна").
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.i18n.catalog import GENDERS
from bot.nlu.normalize import morph
from bot.store import Operator

CYRILLIC_WORD = re.compile(r"[А-Яа-яЁё]+(?:-[А-Яа-яЁё]+)?")
GRAMMEMES = {"femn": "female", "masc": "male"}


@lru_cache(maxsize=1024)
def gender_of_name(display_name: str) -> str | None:
    """ "female" / "male" when the first word is a Russian first name of one gender only, else None."""
    match = CYRILLIC_WORD.match(display_name.strip())
    if match is None:
        return None
    try:
        parses = morph().parse(match.group(0))
    except ValueError:  # pymorphy3 and code points it does not know
        return None
    found = {
        GRAMMEMES.get(str(parse.tag.gender))
        for parse in parses
        if "Name" in parse.tag and "nomn" in parse.tag and parse.score >= 0.05
    }
    return found.pop() if len(found) == 1 and None not in found else None


def grammatical_gender(operator: Operator | None) -> str | None:
    """The operator's own setting, else their first name's gender, else None (neutral wording)."""
    if operator is None:
        return None
    if operator.grammatical_gender in GENDERS:
        return operator.grammatical_gender
    return gender_of_name(operator.display_name or "")
