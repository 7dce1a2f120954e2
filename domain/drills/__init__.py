"""Restore drills: plans, which disks a drill restores, and the report's figures."""
