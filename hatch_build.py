"""Build hook: compile the message catalogs (``.po`` -> ``.mo``) into the wheel and editable installs.

The ``.po`` files under ``bot/i18n/locale`` are the sources kept in git; the compiled
``.mo`` files are not. Building the wheel, or ``pip install -e .``, writes each ``.mo``
next to its ``.po`` and ships it. A catalog that does not parse stops the build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LOCALES = Path("bot") / "i18n" / "locale"


def compile_catalogs(root: Path) -> list[str]:
    """Compile every ``LOCALES/<language>/LC_MESSAGES/<domain>.po`` under ``root``; the ``.mo`` paths."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted((root / LOCALES).glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name, domain=po.stem)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        written.append(mo.relative_to(root).as_posix())
    return written


class CatalogBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        build_data["artifacts"].extend(compile_catalogs(Path(self.root)))
