"""checkov custom checks of this project (loaded with --external-checks-dir)."""
