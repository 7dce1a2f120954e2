"""Readiness: what would make a restore fail, found before an incident needs one."""
