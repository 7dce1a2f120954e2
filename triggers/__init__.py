"""Edge adapters: parse, validate, then start a run or answer. One blueprint per module; the logic
they share is in services/, its real ports are built in wiring.py."""
