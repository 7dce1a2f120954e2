"""The only package that imports azure.mgmt / azure.identity / azure.core and the storage SDKs: a
typed port over Azure (port.py), and the app's own storage (ledger.py, reports.py)."""
