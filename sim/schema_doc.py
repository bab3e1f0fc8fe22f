"""The scenario JSON Schema and the Markdown reference generated from it (docs/scenarios.md).

The reference is generated, never written by hand, so the documentation cannot drift from the schema:
``rapprochement schema --format markdown > docs/scenarios.md`` regenerates it and a test checks it is current.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

from sim.scenario import Event, Scenario, Uncertainty

_INTRO = """# Scenario file reference

Generated from the schema by `rapprochement schema --format markdown`; do not edit by hand.
The JSON Schema for editors comes from `rapprochement schema > scenario.schema.json`.

A scenario is a YAML mapping with the sections below. Every field except `meta.name` and `meta.start` has a
default, so a scenario that `extends:` another file (a path relative to it) states only what it changes:
mappings merge key by key, the extending file wins, and lists (such as `events`) replace the parent's list.
Unknown keys are errors. Dates are `YYYY-MM` or `YYYY-MM-DD`. `--set dotted.path=value` on the command line
overrides any field after `extends` is resolved; an overridden parameter is no longer sampled from
`uncertainties`.
"""


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, with a title and the ``extends`` key."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rapprochement scenario"
    schema.setdefault("properties", {})["extends"] = {
        "type": "string",
        "description": "Path of a scenario this one extends (relative to this file).",
    }
    return schema


def _type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return defs[prop["$ref"].split("/")[-1]].get("title", "object")
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type_text(p, defs) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_text(prop.get('items', {}), defs)}"
    if kind == "object" and "additionalProperties" in prop:
        return f"mapping to {_type_text(prop['additionalProperties'], defs)}"
    return str(kind)


def _range_text(prop: dict[str, Any]) -> str:
    parts = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in prop:
            parts.append(f"{sign} {prop[key]}")
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern']}`")
    for option in prop.get("anyOf", []):
        nested = _range_text(option)
        if nested:
            parts.append(nested)
    return ", ".join(parts)


def _block_of(annotation: Any) -> type[BaseModel] | None:
    """The block class of a field's annotation, an optional block (``X | None``) included; None otherwise."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _section(
    name: str,
    model: type[BaseModel],
    schema: dict[str, Any],
    defs: dict[str, Any],
    defaults: dict[str, Any] | None = None,
) -> list[str]:
    """The table of one block; ``defaults`` are the row's own defaults where the block is a row of a table
    whose rows differ (a move, a kind of history incident), which the block's class cannot know."""
    summary = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
    lines = [f"## `{name}`", "", summary, ""]
    lines += ["| field | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel], dict[str, Any] | None]] = []
    by_alias = {info.alias or name: name for name, info in model.model_fields.items()}
    for field, prop in schema.get("properties", {}).items():
        info = model.model_fields[by_alias[field]]
        default = prop.get("default", "required" if info.is_required() else "")
        if defaults is not None and field in defaults:
            default = defaults[field]
        default_text = json.dumps(default) if not isinstance(default, str) else default
        if isinstance(default, dict) and default:
            default_text = "see below"
        lines.append(
            f"| `{field}` | {_type_text(prop, defs)} | {default_text} | {_range_text(prop)} "
            f"| {prop.get('description', info.description or '')} |"
        )
        annotation = _block_of(info.annotation)
        if annotation is not None:
            row_defaults = default if isinstance(default, dict) else None
            nested.append((f"{name}.{field}", annotation, row_defaults))
    lines.append("")
    for child_name, child, row_defaults in nested:
        child_schema = defs[child.__name__]
        lines += _section(child_name, child, child_schema, defs, row_defaults)
    return lines


def markdown_reference() -> str:
    """docs/scenarios.md: one table per block of the schema, in file order."""
    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    lines = [_INTRO]
    for field, info in Scenario.model_fields.items():
        annotation = _block_of(info.annotation)
        if annotation is not None:
            lines += _section(field, annotation, defs[annotation.__name__], defs)
    lines += _section("events[]", Event, defs["Event"], defs)
    lines += _section("uncertainties.<path>", Uncertainty, defs["Uncertainty"], defs)
    return "\n".join(lines).rstrip() + "\n"
