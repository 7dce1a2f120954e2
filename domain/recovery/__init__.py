"""Alert-driven recovery: signals, the policies that match them, and admission."""
