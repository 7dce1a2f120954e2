"""The Durable extension's half of the protocol: replay model, store, engine and client API."""
