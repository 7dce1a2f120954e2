"""Thin adapters: dict in, one gateway call, dict out. Expected failures come back as data."""
