"""The services the triggers call: admission of restores and recovery signals, and caller
authorization with its audit. Each takes its ports (the durable client, the ledger, the gateway
readers, the policy, the clock) as arguments, so tests drive it with in-memory fakes; the
triggers build the real ones (triggers/wiring.py) and speak HTTP, queues and Event Grid.
"""
