"""The catalog of what can be restored (issue 18): the protected disks a caller may restore,
their recovery points and whether each can be restored now."""
