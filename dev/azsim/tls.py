"""azsim's CA and server certificate (the code is shared with devhost's Azurite: devtls)."""

from __future__ import annotations

from pathlib import Path

from devtls import TlsFiles


def create(directory: Path) -> TlsFiles:
    """Write `ca.pem`, `server.pem` and `server.key` into `directory`."""
    from devtls import create as create_files

    return create_files(directory, ca_name="azsim local CA")
