"""Chaos suite (issue #10): randomized restores against azsim with injected faults (429, 5xx,
connection resets, lost answers, latency) on every operation while devhost is SIGKILLed and
restarted; the invariants in invariants.py are checked from azsim's audit log and state and the
app's status API. `python -m chaos --runs N --seed S`; `make chaos`.
"""
