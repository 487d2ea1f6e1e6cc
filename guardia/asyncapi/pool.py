"""JSON Schemas gathered into one `components.schemas`, with their `$ref`s pointing there.

pydantic puts a model's nested definitions in its own `$defs` and refers to them as `#/$defs/X`.
Inside an AsyncAPI document a `$ref` is resolved against the whole document, so each schema's
definitions move to `#/components/schemas/` and its references follow. One definition used by many
events (Customer, Channel...) is kept once; two different definitions under one name are told apart
by their owner's name (`TicketOpened.Payload` becomes `TicketOpened`).
"""

from __future__ import annotations

import copy
from typing import Any

LOCAL = "#/$defs/"
POOLED = "#/components/schemas/"


def _rewrite(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(LOCAL):
                out[key] = POOLED + names[value.removeprefix(LOCAL)]
            else:
                out[key] = _rewrite(value, names)
        return out
    if isinstance(node, list):
        return [_rewrite(item, names) for item in node]
    return node


class SchemaPool:
    """The `components.schemas` of a document being built."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def add(self, schema: dict[str, Any], owner: str, renames: dict[str, str] | None = None) -> dict[str, Any]:
        """Pool `schema`'s `$defs` (a definition named in `renames` takes that name, e.g. Payload -> the
        event's class) and return the rest of `schema` with every reference pointing into the pool."""
        schema = copy.deepcopy(schema)
        defs: dict[str, Any] = schema.pop("$defs", {})
        names = {name: (renames or {}).get(name, name) for name in defs}
        for _ in range(len(defs) + 1):  # renaming one clash can only create a finite number of others
            rewritten = {name: _rewrite(body, names) for name, body in defs.items()}
            clashes = [n for n, body in rewritten.items()
                       if names[n] in self.schemas and self.schemas[names[n]] != body]
            if not clashes:
                break
            for name in clashes:
                names[name] = f"{owner}.{names[name]}"
        else:  # pragma: no cover - each pass renames into the owner's namespace, which cannot clash twice
            raise ValueError(f"{owner}: schema names keep clashing: {sorted(defs)}")
        for name, body in rewritten.items():
            self.schemas.setdefault(names[name], body)
        return _rewrite(schema, names)  # type: ignore[no-any-return]

    def model(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        """Pool a whole model's schema under `name`; returns the reference to it."""
        body = self.add(schema, owner=name)
        if name in self.schemas and self.schemas[name] != body:
            raise ValueError(f"two different schemas are called {name}")
        self.schemas[name] = body
        return {"$ref": POOLED + name}
