"""JSON Schema export of the catalogue, and the compatibility rule that guards versions.

A checked-in schema `json/<event_type>.v<N>.json` is the contract of version N. A model may change
without a version bump only if every message valid under the old schema is still valid under the new
one: no property removed or retyped, no new required property, no enum value dropped. Anything else
needs version N+1 and an upcaster (invariant 4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .base import REGISTRY, Envelope, Payload, Registry

SCHEMA_DIR = Path(__file__).parent / "json"


def schema_of(cls: type[Payload]) -> dict[str, Any]:
    """The payload schema wrapped in the envelope, as a consumer in any language would validate it."""
    payload = cls.model_json_schema(mode="serialization")
    envelope = Envelope.model_json_schema(mode="serialization")
    envelope["title"] = f"{cls.event_type} v{cls.version}"
    envelope["description"] = (cls.__doc__ or "").strip()
    envelope["properties"]["event_type"] = {"const": cls.event_type}
    envelope["properties"]["schema_version"] = {"const": cls.version}
    envelope["properties"]["data"] = {"$ref": "#/$defs/Payload"}
    defs = envelope.setdefault("$defs", {})
    defs.update(payload.pop("$defs", {}))
    defs["Payload"] = payload
    return envelope


def file_name(cls: type[Payload]) -> str:
    return f"{cls.event_type}.v{cls.version}.json"


def export(directory: Path = SCHEMA_DIR, registry: Registry = REGISTRY) -> list[Path]:
    """Write one JSON Schema per event at its current version; old versions' files are kept."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for cls in sorted(registry.latest.values(), key=lambda c: c.event_type):
        path = directory / file_name(cls)
        path.write_text(json.dumps(schema_of(cls), indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        written.append(path)
    return written


def incompatibilities(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """Why a message valid under `old` may be rejected by `new` (empty list: compatible)."""
    problems: list[str] = []
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})

    def resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return resolve(defs[ref.removeprefix("#/$defs/")], defs)
        return node

    def walk(o: dict[str, Any], n: dict[str, Any], path: str, depth: int) -> None:
        if depth > 12:
            return
        o, n = resolve(o, old_defs), resolve(n, new_defs)
        if "const" in o or "const" in n:
            if o.get("const") != n.get("const"):
                problems.append(f"{path}: constant changed {o.get('const')!r} -> {n.get('const')!r}")
            return
        if o.get("type") != n.get("type") and "type" in n:
            problems.append(f"{path}: type changed {o.get('type')} -> {n.get('type')}")
        if "enum" in o and "enum" in n:
            dropped = set(map(str, o["enum"])) - set(map(str, n["enum"]))
            if dropped:
                problems.append(f"{path}: enum values removed {sorted(dropped)}")
        if "anyOf" in o and "anyOf" in n:
            old_kinds = {json.dumps(resolve(x, old_defs).get("type")) for x in o["anyOf"]}
            new_kinds = {json.dumps(resolve(x, new_defs).get("type")) for x in n["anyOf"]}
            if old_kinds - new_kinds:
                problems.append(f"{path}: accepted types narrowed {sorted(old_kinds - new_kinds)}")
        o_props, n_props = o.get("properties", {}), n.get("properties", {})
        for name, sub in o_props.items():
            if name not in n_props:
                if n.get("additionalProperties") is False:
                    problems.append(f"{path}.{name}: property removed")
                continue
            walk(sub, n_props[name], f"{path}.{name}", depth + 1)
        added_required = set(n.get("required", [])) - set(o.get("required", []))
        for name in sorted(added_required):
            problems.append(f"{path}.{name}: became required")
        if "items" in o and "items" in n and isinstance(o["items"], dict) and isinstance(n["items"], dict):
            walk(o["items"], n["items"], f"{path}[]", depth + 1)

    walk(old, new, where or old.get("title", "schema"), 0)
    return problems


def check_against_checked_in(directory: Path = SCHEMA_DIR, registry: Registry = REGISTRY) -> list[str]:
    """Problems between the models and the checked-in schemas, as readable lines."""
    problems = []
    for cls in registry.latest.values():
        path = directory / file_name(cls)
        if not path.exists():
            problems.append(f"{file_name(cls)}: no checked-in schema (run `guardia schemas export`)")
            continue
        old = json.loads(path.read_text())
        problems.extend(incompatibilities(old, schema_of(cls)))
    return problems
