"""The only package that imports azure.mgmt / azure.identity: a typed port over Azure."""
