"""Build the OpenAPI document (triggers/openapi.json) from its two sources:

* the request schemas the app validates with: domain/restore/request.py (the restore request
  and its ARM ids) and triggers/http_inputs.py (the decision and drill bodies, the queries);
* triggers/openapi.base.json, the hand-written rest: paths, responses, descriptions, examples.
  Where it says `{"x-from": "<module>"}` (a component schema) or
  `{"x-from": "<module>", "x-query": "<name>"}` (in an operation's parameters), the schema or
  the query's parameters come from that module, as the app uses them (their `x-` keys, the
  app's messages and checks, left out).

`make openapi` (python -m tools.openapi_document) writes the file; tests/api/test_openapi.py
fails while the committed file differs from what this builds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "triggers" / "openapi.base.json"
DOCUMENT = ROOT / "triggers" / "openapi.json"


def _sources() -> dict[str, dict[str, dict[str, Any]]]:
    from domain.restore import request
    from triggers import http_inputs
    return {"domain/restore/request.py": request.SCHEMAS,
            "triggers/http_inputs.py": http_inputs.SCHEMAS}


def _parameters(query: dict[str, Any]) -> list[dict[str, Any]]:
    """A query schema's properties as OpenAPI query parameters (the host's own `code` aside)."""
    from domain.validation import published
    found = []
    for name, schema in query["properties"].items():
        if "x-host" in schema:
            continue
        schema = dict(schema)
        parameter = {"name": name, "in": "query", "required": False,
                     "description": schema.pop("description")}
        example = schema.pop("example", None)
        parameter["schema"] = published(schema)
        if example is not None:
            parameter["example"] = example
        found.append(parameter)
    return found


def build() -> dict[str, Any]:
    from domain.validation import published
    doc = json.loads(BASE.read_text(encoding="utf-8"))
    sources, used = _sources(), set()
    schemas = doc["components"]["schemas"]
    for name, schema in schemas.items():
        if "x-from" in schema:
            schemas[name] = published(sources[schema["x-from"]][name])
            used.add((schema["x-from"], name))
    for item in doc["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "parameters" not in operation:
                continue
            parameters = []
            for parameter in operation["parameters"]:
                if "x-query" in parameter:
                    parameters += _parameters(sources[parameter["x-from"]][parameter["x-query"]])
                    used.add((parameter["x-from"], parameter["x-query"]))
                else:
                    parameters.append(parameter)
            operation["parameters"] = parameters
    unused = sorted({(m, n) for m, s in sources.items() for n in s} - used)
    if unused:
        raise ValueError(f"{BASE.name} places no {unused}: add an x-from for each")
    return doc


def text(doc: dict[str, Any]) -> str:
    """The one canonical form: indent 2, keys in the order written, a final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    DOCUMENT.write_text(text(build()), encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
