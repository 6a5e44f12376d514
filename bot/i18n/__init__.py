"""The operator's language: message catalogs (Babel/gettext), display names, translatable texts.

    catalog.py  compiled catalogs and ``Translator`` (gettext, plurals, gender contexts)
    names.py    display names of reasons, channels, roles, intents (``intent_title``), departments
    text.py     ``Text``: an English sentence that carries its message id, to translate later

Import the submodules (``bot.i18n.text`` needs no Babel, so the dialogue can mark texts
cheaply). docs/panel.md ("Languages") says how an operator chooses, and how to add a translation.
"""
