"""Thin adapters, each declared with `@activity()` (activity.py) and registered in registry.py: a
typed record in, one gateway call, a typed record out. Expected failures come back as data."""
