"""What the fuzzers share: hypothesis strategies for documents (valid ones with one thing changed,
and anything at all) and the checks every answer must pass.

A mutated document comes with the path of what was changed ("target.diskName",
"data.essentials.alertTargetIDs[0]"), so a rejection can be checked to name it.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SUB = "6d2f1e0a-3b4c-4d5e-8f90-a1b2c3d4e5f6"  # azsim's demo subscription
RG = f"/subscriptions/{SUB}/resourceGroups"
VM = f"{RG}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01"
PROBLEM = "application/problem+json"
# Paths and queries stay within what the Functions host (Kestrel: 8 KB request line) serves at all;
# longer ones are the host's 414, never the app's.
MAX_URL = 6000

# ---- profiles ------------------------------------------------------------------------------------
# FUZZ_EXAMPLES (make fuzz: 10,000) selects the full profile: that many cases per entry point,
# randomized, no deadline. Without it, the short profile of `make test`: derandomized, repeatable.
FULL = bool(os.environ.get("FUZZ_EXAMPLES"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 150)
_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
           HealthCheck.filter_too_much, HealthCheck.large_base_example]
settings.register_profile("fuzz-short", max_examples=EXAMPLES, derandomize=True, deadline=None,
                          database=None, suppress_health_check=_HEALTH, print_blob=True)
settings.register_profile("fuzz-full", max_examples=EXAMPLES, derandomize=False, deadline=None,
                          database=None, suppress_health_check=_HEALTH, print_blob=True)
# Applied per test (`@FUZZ`), never loaded globally: other tests keep hypothesis' defaults.
FUZZ = settings(settings.get_profile("fuzz-full" if FULL else "fuzz-short"))

# ---- values --------------------------------------------------------------------------------------
ODD_TEXT = ["", " ", "\t", "\n", "\x00", "null", "true", "0", "-1", "latest", "Latest", "None",
            "é", "ü(1)", "😀", "\u202e", "\ufeff", "\ud800", "x\udfffy", "..", "/", "//", "%2F",
            "%00", "{id}", "'", '"', "\\", "<script>", "a b", "Z", "z",
            "00000000-0000-0000-0000-000000000000", "2026-11-20T10:00:00Z"]


@functools.cache
def huge_text() -> st.SearchStrategy[str]:
    """Long strings, cheap to draw: one character (or a short piece) repeated."""
    piece = st.sampled_from(["a", "é", "😀", "/", "0", "\x00", "ab-", "\ud800"])
    return st.builds(lambda p, n: p * n, piece, st.one_of(st.integers(300, 3000),
                                                         st.integers(3000, 40_000)))


@functools.cache
def texts() -> st.SearchStrategy[str]:
    """Odd, ordinary, non-BMP and (one time in eight) long text."""
    odd, short = st.sampled_from(ODD_TEXT), st.text(max_size=40)
    return st.one_of(odd, odd, short, short, short, short,
                     st.text(st.characters(codec="utf-8"), max_size=12), huge_text())


@functools.cache
def numbers() -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(-5, 70), st.integers(), st.sampled_from([2**31, 2**63, -2**63,
                                                                          10**30, 0.5, -0.0,
                                                                          1e308, 3.0]),
                     st.floats(allow_nan=False, allow_infinity=False))


@functools.cache
def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), numbers(), texts())


@functools.cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value (NaN and infinities aside: they are not JSON)."""
    return st.recursive(scalars(), lambda inner: st.lists(inner, max_size=4) |
                        st.dictionaries(st.one_of(st.text(max_size=12),
                                                  st.sampled_from(ODD_TEXT)), inner, max_size=4),
                        max_leaves=max_leaves)


@functools.cache
def nested(low: int = 50, high: int = 900) -> st.SearchStrategy[Any]:
    """A deeply nested array or object (the recursion limits of parsers and encoders)."""
    def build(n: int, kind: str) -> Any:
        value: Any = 1
        for _ in range(n):
            value = [value] if kind == "list" else {"a": value}
        return value
    return st.builds(build, st.integers(low, high), st.sampled_from(["list", "dict"]))


_CRAFTED = {
    "empty": b"", "space": b" ", "open": b"{", "close": b"}", "bracket": b"[", "null": b"null",
    "true": b"true", "zero": b"0", "minus-zero": b"-0", "empty-string": b'""', "array": b"[]",
    "object": b"{}", "nan": b"NaN", "infinity": b"Infinity", "nan-member": b'{"a": NaN}',
    "overflow": b"1e999", "overflow-member": b'{"lun": 1e999}', "utf16-bom": b"\xff\xfe{}",
    "utf8-bom": b"\xef\xbb\xbf{}", "bad-utf8": b'{"a": "\xff"}',
    "lone-surrogate": b'{"a": "\\ud800"}', "duplicate-keys": b'{"a":1,"a":2}',
    "utf16": "{}".encode("utf-16"), "single-quotes": b"{'a': 1}",
    "trailing": b'{"a": 1} trailing', "nul": b"\x00", "long-number": b"1" * 5000,
    "long-negative": b"-" + b"9" * 4400, "deep-open": b"[" * 100_000,
    "deep-members": b'{"a":' * 50_000, "deep-995": b"[" * 995 + b"]" * 995,
}


def crafted(name: str) -> bytes:
    return _CRAFTED[name]


@functools.cache
def raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are not (quite) JSON, or JSON at its edges (drawn by name: short reprs)."""
    return st.one_of(st.sampled_from(sorted(_CRAFTED)).map(crafted),
                     st.binary(max_size=300),
                     st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n))


def url_quote(text: str) -> str:
    """Percent-encoded as bytes on the wire: a lone surrogate goes as its (invalid) UTF-8."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def query(params: dict[str, str]) -> str:
    return "&".join(f"{url_quote(k)}={url_quote(v)}" for k, v in params.items())


def dumps(value: Any) -> bytes:
    """As a client would send it (non-ASCII escaped, so lone surrogates survive as \\udXXX)."""
    return json.dumps(value).encode()


# ---- ARM ids, as given and as they go wrong ------------------------------------------------------
@functools.lru_cache(maxsize=512)
def id_variants(good: str) -> st.SearchStrategy[str]:
    if "/resourceGroups/" not in good:  # a subscription-level id (an alert's id)
        good = f"{RG}/rg{good.split('/providers/', 1)[-1] if '/providers/' in good else ''}"
    head, tail = good.split("/resourceGroups/", 1)
    group, rest = [*tail.split("/", 1), ""][:2]
    rest = "/" + rest if rest else ""
    fixed = [
        good.upper(), good.lower(), good + "/", "/" + good, good + "//", good[1:], good + "/extra",
        good + "/x/y", good.replace(SUB, "not-a-guid"), good.replace(SUB, ""),
        good.replace("/resourceGroups/", "/resourcegroups/"),
        good.replace("/subscriptions/", "/subscription/"),
        good.replace("/providers/", "/provider/"), good.replace("/providers/", "//"),
        f"{head}/resourceGroups/{group}.{rest}", f"{head}/resourceGroups/{'r' * 91}{rest}",
        f"{head}/resourceGroups/{'r' * 90}{rest}", f"{head}/resourceGroups/rg ü{rest}",
        f"{head}/resourceGroups/{rest}", f"{head}/resourceGroups/{group}",
        good.rsplit("/", 1)[0] + "/", good.rsplit("/", 1)[0] + "/a name with spaces",
        good.rsplit("/", 1)[0] + "/" + "n" * 81, good.rsplit("/", 1)[0] + "/-n",
        good.rsplit("/", 1)[0] + "/n.", good.rsplit("/", 1)[0] + "/😀",
        good.replace("/", "\\"), " " + good, good + " ", good + "\n", good + "?x=1",
        good + "#frag", good.replace("/", "%2F"), "/subscriptions", "/", "subscriptions",
        f"{RG}/rg-app/providers/Microsoft.Compute/disks/vm-app01-data0",
        f"{RG}/rg-app/providers/Microsoft.Compute/virtualMachines/vm-app01",
        f"{RG}/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv-demo/"
        "backupInstances/bi-1", f"{RG}/rg-restore-target",
        f"{RG}/rg-app/providers/Microsoft.Compute/disks/d/extra/x"]
    return st.one_of(st.sampled_from(fixed),
                     st.builds(lambda t: good.rsplit("/", 1)[0] + "/" + t, texts()),
                     st.builds(lambda t: good.replace(group, t, 1), texts()),
                     st.builds(lambda t, i: good[:i] + t + good[i:], texts(),
                               st.integers(0, len(good))))


def looks_like_id(value: Any) -> bool:
    return isinstance(value, str) and value.lower().startswith("/subscriptions/")


@functools.cache
def time_variants() -> st.SearchStrategy[str]:
    return st.sampled_from([
        "2026-11-20T10:00:00Z", "2026-11-20T10:00:00z", "2026-11-20T10:00:00", "2026-11-20",
        "2026-11-20 10:00", "2026-11-20T10:00:00.1234567Z", "2026-11-20T10:00:00+01:00",
        "2026-11-20T10:00:00+0100", "2026-11-20T10:00:00,5+01:00", "2026-13-01T00:00:00Z",
        "2026-11-20T24:00:00Z", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z", "yesterday", "", " ",
        "2026-11-20T10:00:00+25:00", "2026-11-20T10:00:00Z ", "１２３４-11-20T10:00:00Z",
        "2026-11-20T10:00:00.999999999999Z", "+002026-11-20T10:00:00Z", "2026-W47-5",
        "20261120T100000Z", "2026-11-20T10:00Z", "2026-11-20T10Z", "2026-11-20T10:00:60Z"])


# ---- one change to a valid document --------------------------------------------------------------
@dataclass(frozen=True)
class Mutated:
    doc: Any
    path: str  # what was changed: "" for the whole document, "a.b[2].c" otherwise
    kind: str  # replace | delete | add | id | text | number | time | same

    def __repr__(self) -> str:  # what hypothesis prints for a failing case, kept readable
        text = json.dumps(self.doc)
        return f"Mutated(kind={self.kind!r}, path={self.path!r}, doc={text[:2000]})"


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def path_text(path: tuple) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _get(doc: Any, path: tuple) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


@functools.cache
def _replacements() -> st.SearchStrategy[Any]:
    return st.one_of(scalars(), json_values(), nested(20, 800))


@functools.lru_cache(maxsize=64)
def _keys(extra_keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(list(extra_keys) or ["extra"]), st.text(max_size=10),
                     st.sampled_from(ODD_TEXT))


_TEXT_CHANGES = ("append", "prepend", "swapcase", "strip", "first", "repeat", "other")


def mutations(base: Any, *, extra_keys: list[str] = (),
              replacements: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Mutated]:
    """`base` with one change: a member replaced (wrong type, odd or huge text, deep nesting,
    anything), dropped, or added; an ARM id, a time, a number or a text nudged out of shape.
    (The strategies drawn from are built once: building them per example is slow.)"""
    paths = _paths(base)
    replacements = replacements or _replacements()
    keys = _keys(tuple(extra_keys))

    @st.composite
    def build(draw: Any) -> Mutated:
        doc = copy.deepcopy(base)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        current = _get(doc, path)
        kinds = ["replace", "replace", "same"]
        if path and isinstance(_get(doc, path[:-1]), dict):
            kinds.append("delete")
        if isinstance(current, dict):
            kinds += ["add", "add"]
        if isinstance(current, str):
            kinds += ["text", "text"] + (["id"] * 4 if looks_like_id(current) else [])
            if re.match(r"^\d{4}-\d\d-\d\d", current):
                kinds += ["time"] * 3
        if isinstance(current, int | float) and not isinstance(current, bool):
            kinds += ["number"] * 3
        kind = kinds[draw(st.integers(0, len(kinds) - 1))]
        if kind == "same":
            return Mutated(doc, path_text(path), kind)
        if kind == "delete":
            del _get(doc, path[:-1])[path[-1]]
            return Mutated(doc, path_text(path), kind)
        if kind == "add":
            key = draw(keys)
            current[key] = draw(replacements)
            return Mutated(doc, path_text((*path, key)), kind)
        if kind == "id":
            value = draw(id_variants(current))
        elif kind == "time":
            value = draw(time_variants())
        elif kind == "number":
            value = draw(numbers())
        elif kind == "text":
            change = _TEXT_CHANGES[draw(st.integers(0, len(_TEXT_CHANGES) - 1))]
            other = draw(texts()) if change in ("append", "prepend", "other") else ""
            value = (current + other if change == "append" else other + current
                     if change == "prepend" else current.swapcase() if change == "swapcase"
                     else current.strip("/") if change == "strip" else current[:1]
                     if change == "first" else other if change == "other"
                     else current * draw(st.integers(2, 2000)))
        else:
            value = draw(replacements)
        return Mutated(_set(doc, path, value), path_text(path), kind)

    return build()


# ---- bugs found in files this work may not change (the fixes are proposed in the report) ---------
# Each is recognised by its input and its symptom, counted (printed with the tallies) and let
# pass, so the fuzzers go on finding the others. tests/fuzz/test_found.py holds each one as a
# strict xfail: when its fix lands, that test fails, and its entry here is to be deleted.
def deep_json(body: bytes | None) -> bool:
    """JSON nested past the interpreter's stack: json.loads raises RecursionError."""
    try:
        json.loads(body or b"")
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


def raw_in_url(instance: str) -> bool:
    """An instance id the Durable SDK cannot put into its management URL as it does (unescaped):
    yarl drops tabs and newlines, '#' and '?' end the path, '%XX' is decoded, '\\' is '/'."""
    return any(c in instance for c in "\t\n\r#?\\") or \
        re.search("%[0-9A-Fa-f]{2}", instance) is not None


def ancient(since: str | None) -> bool:
    """A time before year 1000: the SDK writes it with strftime('%Y'), unpadded ("1-01-01")."""
    from datetime import datetime
    try:
        when = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
        return when is not None and when.year < 1000
    except ValueError:
        return False


OPEN_BUGS: dict[str, Any] = {
    # name: lambda status, **facts: whether this answer is that bug. None open now: the ones
    # found in triggers/http.py and triggers/drill_routes.py (deep JSON, raw instance ids, unnamed
    # decision fields, since before year 1000, an empty or 5000-digit top) are fixed there.
}
OPEN_COUNTS: dict[str, int] = {}


def open_bug(status: int, **facts: Any) -> bool:
    """Whether this answer is one of OPEN_BUGS (counted if so)."""
    for name, matches in OPEN_BUGS.items():
        if matches(status, **facts):
            OPEN_COUNTS[name] = OPEN_COUNTS.get(name, 0) + 1
            return True
    return False


# ---- discovery: FUZZ_COLLECT=1 records failures (one of each kind) instead of stopping -----------
COLLECTED: dict[str, list[Any]] = {}


def collecting(test: Any) -> Any:
    """Under FUZZ_COLLECT, an AssertionError is recorded (first example and a count per kind of
    failure) and the run goes on: one run shows every kind of failure, not the first."""
    if not os.environ.get("FUZZ_COLLECT"):
        return test

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return test(*args, **kwargs)
        except AssertionError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            key = f"{test.__name__}: {re.sub(r'[0-9a-f]{8,}|[0-9]+', '#', first)[:160]}"
            entry = COLLECTED.setdefault(key, [0, str(exc)[:1500], _short(kwargs)])
            entry[0] += 1
    return run


def _short(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}"[:600] for k, v in kwargs.items()
                     if k not in ("app", "http", "tally", "with_runs", "queue"))


# ---- what every answer must be -------------------------------------------------------------------
GENERIC = {"", "invalid request", "bad request", "error", "invalid", "malformed", "not found",
           "invalid query", "invalid input", "validation failed"}


def problem_of(answer: Any) -> dict[str, Any]:
    """The problem details of a 4xx answer, checked: problem+json, its status, a title, and a
    detail that says something (not empty, not a generic word)."""
    kind = answer.headers.get("Content-Type", "")
    assert kind.split(";")[0].strip() == PROBLEM, \
        f"{answer.status_code} is not problem+json ({kind!r}): {answer.text[:500]!r}"
    body = answer.json()
    assert isinstance(body, dict), body
    assert body.get("status") == answer.status_code, body
    assert isinstance(body.get("title"), str) and body["title"], body
    detail = body.get("detail")
    assert isinstance(detail, str) and detail.strip().lower().rstrip(".") not in GENERIC \
        and len(detail.strip()) >= 12, f"a vague detail: {body}"
    for error in body.get("errors") or []:
        assert isinstance(error, dict) and isinstance(error.get("message"), str) \
            and error["message"].strip(), f"an error without a message: {body}"
        assert isinstance(error.get("field"), str), body
    return body


def names(body: dict[str, Any], path: str, *, related: dict[str, set[str]] | None = None) -> bool:
    """Whether a problem names what was changed at `path`: an error's field is the path, one of
    its ancestors or descendants (or a field `related` ties to it); or the detail says it."""
    if not path:
        return True
    wanted = {path} | (related or {}).get(path.split(".")[0].split("[")[0], set())
    fields = [e["field"] for e in body.get("errors") or []]
    for field in fields:
        for want in wanted:
            if field and (field == want or _under(want, field) or _under(field, want)):
                return True
    return any(mentions(body.get("detail", ""), want) for want in wanted)


def _under(path: str, ancestor: str) -> bool:
    return path.startswith(ancestor + ".") or path.startswith(ancestor + "[")


def mentions(text: str, path: str) -> bool:
    """`text` names the node at `path`, one of its ancestors (exactly), or a descendant."""
    if re.search(rf"(?<![\w.]){re.escape(path)}(?![\w])", text):
        return True  # the node itself, or a descendant ("path.x", "path[0]")
    parts = re.split(r"(?=[.\[])", path)
    ancestors = ["".join(parts[:i]) for i in range(1, len(parts))]
    return any(re.search(rf"(?<![\w.]){re.escape(a)}(?![\w.\[])", text) for a in ancestors)
