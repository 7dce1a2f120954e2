"""Edge adapters: parse, validate, then start a run or answer. One blueprint per entry point."""
