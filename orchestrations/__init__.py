"""Deterministic orchestrations: time, ids and waits only from the Durable context; no I/O,
no settings, no logging during replay (see the header of restore_managed_disk.py)."""
