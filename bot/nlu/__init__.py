"""The embedded NLU engine: a pipeline of registered components declared in config.yml."""

from bot.nlu.base import Component, Entity, IntentScore, Message
from bot.nlu.data import Example, TrainingData, load_training_data
from bot.nlu.pipeline import Pipeline

__all__ = [
    "Component",
    "Entity",
    "Example",
    "IntentScore",
    "Message",
    "Pipeline",
    "TrainingData",
    "load_training_data",
]
