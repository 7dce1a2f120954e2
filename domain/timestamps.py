"""ISO-8601 times as Azure writes them ("...Z", "+00:00", sometimes no zone), read as aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(text: str) -> datetime:
    """An aware UTC datetime; a time without a zone is taken as UTC (ARM's are). ValueError if
    `text` is not an ISO-8601 time."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def maybe_utc(text: str | None) -> datetime | None:
    """parse_utc, or None for a missing or unreadable time."""
    if not text:
        return None
    try:
        return parse_utc(text)
    except ValueError:
        return None
