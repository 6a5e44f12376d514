"""The editor's loop: inbox of what the bot did not answer alone, labels into intents/*.yml,
retraining, the evaluation gate, publishing without a restart, and test stories from real chats.

One job per module: ``inbox`` (select), ``clusters`` (group), ``pii`` (mask), ``candidates``
(operator answers), ``annotate`` (write YAML), ``annotations`` (proposals in the store),
``gate`` (compare models), ``training`` (retrain and publish), ``stories`` (test stories).
"""
