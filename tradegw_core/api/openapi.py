"""The control API's OpenAPI 3.1 description, generated from the models the handlers use.

``/v1/control`` takes any control message (the discriminated union the control bus parses,
:data:`~tradegw_core.schema.control.ControlMessage`); ``/v1/trading`` takes the fields of
:class:`~tradegw_core.schema.control.SetTradingMode` but ``kind`` (the handler adds it);
every control route answers an :class:`~tradegw_core.schema.control.Ack`. The status page is
a plain JSON object (``tradegw_core.api.status``: no model; described, not schematised).
The gateway serves the document at ``GET /openapi.json``; ``docs/openapi.json`` is the same
document, regenerated with ``python -m tradegw_core.api.openapi --output docs/openapi.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from tradegw_core.schema.control import Ack, ControlMessage, SetTradingMode

__all__ = ["GENERATOR", "ROUTES", "openapi_document", "render"]

GENERATOR = "python -m tradegw_core.api.openapi --output docs/openapi.json"

ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/v1/status"),
    ("POST", "/v1/control"),
    ("POST", "/v1/trading"),
)
"""Every (method, path) the control API serves; the document describes exactly these."""

_REF = "#/components/schemas/{model}"


def _schemas() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    control = TypeAdapter(ControlMessage).json_schema(ref_template=_REF)
    schemas: dict[str, Any] = dict(control.pop("$defs"))
    ack = Ack.model_json_schema(ref_template=_REF)
    schemas["Ack"] = ack
    trading = SetTradingMode.model_json_schema(ref_template=_REF)
    trading["properties"] = {k: v for k, v in trading["properties"].items() if k != "kind"}
    trading["title"] = "SetTradingModeBody"
    trading["description"] = "SetTradingMode without `kind` (the route sends SetTradingMode)."
    schemas["SetTradingModeBody"] = trading
    return schemas, control, {"$ref": _REF.format(model="Ack")}


def _ack_responses(ack: dict[str, Any]) -> dict[str, Any]:
    body = {"content": {"application/json": {"schema": ack}}}
    return {
        "200": {"description": "applied", **body},
        "400": {"description": "malformed control message (error Ack)", **body},
        "401": {"description": "missing or invalid bearer token"},
        "413": {"description": "body larger than the API reads"},
        "422": {"description": "refused by the gateway (error Ack)", **body},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the control API (a JSON-ready dict)."""
    schemas, control, ack = _schemas()
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tradegw control API",
            "version": "1",
            "description": "The control bus and a status page over authenticated HTTP "
            "(docs/operations.md).",
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness (no token needed)",
                    "operationId": "healthz",
                    "responses": {"200": {"description": "the API answers"}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document (no token needed)",
                    "operationId": "openapi",
                    "responses": {"200": {"description": "the OpenAPI 3.1 document"}},
                }
            },
            "/v1/status": {
                "get": {
                    "summary": "Providers, consumers, routing, trading switches, open orders",
                    "operationId": "status",
                    "security": secured,
                    "responses": {
                        "200": {
                            "description": "the status document (docs/operations.md)",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "401": {"description": "missing or invalid bearer token"},
                    },
                }
            },
            "/v1/control": {
                "post": {
                    "summary": "Send a control message (as on the control bus)",
                    "operationId": "control",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": control}},
                    },
                    "responses": _ack_responses(ack),
                }
            },
            "/v1/trading": {
                "post": {
                    "summary": "Switch trading for one consumer, or the global kill switch",
                    "operationId": "trading",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="SetTradingModeBody")}
                            }
                        },
                    },
                    "responses": _ack_responses(ack),
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def render() -> str:
    """The document as the text of ``docs/openapi.json``."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document to ``--output`` (or print it)."""
    parser = argparse.ArgumentParser(prog="python -m tradegw_core.api.openapi")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.output is None:
        print(render(), end="")
    else:
        args.output.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
