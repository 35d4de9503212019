"""``GET /openapi.json``: the control API describes itself, and the description is true.

The document is served by a running gateway, validates as OpenAPI 3.1, names exactly the
routes the server answers, takes its request/response schemas from the models the
handlers use (a control message the document's schema allows is accepted over HTTP), and
``docs/openapi.json`` is the same document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tradegw_core.api.openapi import GENERATOR, ROUTES, main, render
from tradegw_core.schema.control import SetTradingMode

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

Start = Callable[[], Any]

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


async def test_openapi_json_is_valid_31_and_matches_the_routes(running: Start) -> None:
    async with running() as r:
        resp = await r.http.get("/openapi.json")  # no token needed, like /healthz
        assert resp.status_code == 200
        doc = resp.json()
        validate(doc)  # raises on anything that is not a valid OpenAPI 3.1 document
        assert doc["openapi"] == "3.1.0"

        assert r.gw.api is not None
        served = {(route.method, route.path) for route in r.gw.api.router.routes}
        described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        assert described == served == set(ROUTES)

        # The schemas are the handlers' models: the discriminator covers every control kind.
        mapping = doc["paths"]["/v1/control"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["discriminator"]["mapping"]
        assert set(mapping) == {"subscribe", "unsubscribe", "merged_subscribe",
                                "merged_unsubscribe", "set_trading_mode"}  # fmt: skip
        body = doc["components"]["schemas"]["SetTradingModeBody"]
        assert set(body["properties"]) == set(SetTradingMode.model_fields) - {"kind"}
        assert body["additionalProperties"] is False
        ack = doc["components"]["schemas"]["Ack"]
        answer = await r.http.post(
            "/v1/trading", json={"consumer_id": "mm", "enabled": True}, headers=r.auth
        )
        assert answer.status_code == 200
        assert set(answer.json()) == set(ack["properties"])
        for path, ops in doc["paths"].items():
            for op in ops.values():
                if "security" in op:  # every secured route refuses a request without token
                    method = "POST" if "requestBody" in op else "GET"
                    assert (await r.http.request(method, path, json={})).status_code == 401


def test_docs_openapi_json_is_the_served_document(tmp_path: Path) -> None:
    assert DOC.is_file(), f"docs/openapi.json is missing; regenerate it with: .venv/bin/{GENERATOR}"
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/openapi.json is stale; regenerate it with: .venv/bin/{GENERATOR}"
    )
    out = tmp_path / "openapi.json"
    assert main(["--output", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["paths"].keys() == {p for _, p in ROUTES}
