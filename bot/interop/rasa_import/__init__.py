"""Turn a Rasa 3 project into a botdesk project, and say what did not carry over.

botdesk reads Rasa's file formats, but a Rasa project is more than its files: custom
actions are Python on an action server, TEDPolicy generalises stories by machine
learning, the NLU pipeline is Rasa's own. The import keeps what botdesk runs as it is,
translates what has an equivalent (``or`` steps become one flow per alternative,
``utter_ask_<form>_<slot>`` becomes ``utter_ask_<slot>``) and reports everything else
as a :class:`Note` naming the Rasa file and line, so nothing is lost silently. The
written project is loaded back (config, data, flows, test stories) before the import
counts as done.

One module per part: :mod:`.config`, :mod:`.domain` and :mod:`.responses`, :mod:`.nlu`,
:mod:`.flows` (rules and stories), :mod:`.tests` (test stories), :mod:`.writer`; they
share the :class:`~.state.Conversion` being filled, and :mod:`.importer` runs them in order.
"""

from bot.interop.rasa_import.importer import import_rasa
from bot.interop.rasa_import.notes import Note

__all__ = ["Note", "import_rasa"]
