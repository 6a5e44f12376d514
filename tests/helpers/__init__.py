"""Helpers the tests share: plain functions and classes, imported by name (fixtures stay in conftest)."""
