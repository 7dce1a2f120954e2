"""Restoring one disk: the request, its plan, and what Azure Backup's error codes mean."""
