"""Edge cases: unknown paths, malformed input, OAuth corners."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
from sim_helpers import basic

from simulator import Simulator

SYSTEM_ID = 698910067


async def test_unknown_api_path_is_json_404(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.get(f"{sim_url}/api/v5/nothing") as resp:
        assert resp.status == 404
        assert (await resp.json())["code"] == 404
    async with http.get(f"{sim_url}/not-api") as resp:
        assert resp.status == 404


async def test_wrong_method_on_oauth_token(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.get(f"{sim_url}/oauth/token") as resp:
        assert resp.status == 405


async def test_unsupported_response_type(http: aiohttp.ClientSession, sim_url: str) -> None:
    params = {
        "response_type": "token",
        "client_id": "sim-client-id",
        "redirect_uri": "http://127.0.0.1/cb",
        "state": "s",
    }
    async with http.get(f"{sim_url}/oauth/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 302
        query = parse_qs(urlparse(resp.headers["Location"]).query)
    assert query == {"error": ["unsupported_response_type"], "state": ["s"]}


async def test_default_redirect_page_shows_code(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    params = {"response_type": "code", "client_id": "sim-client-id"}
    async with http.get(f"{sim_url}/oauth/authorize", params=params) as resp:
        assert resp.status == 200
        page = await resp.text()
    code = page.split("<code>")[1].split("</code>")[0]
    assert code in sim.codes


async def test_single_user_page_has_no_choice(
    http: aiohttp.ClientSession, sim_url: str, sim: Simulator
) -> None:
    sim.auto_approve = False
    del sim.users[next(u for u in sim.users if u != sim.default_user_id)]
    params = {
        "response_type": "code",
        "client_id": "sim-client-id",
        "redirect_uri": "http://127.0.0.1/cb",
    }
    async with http.get(f"{sim_url}/oauth/authorize", params=params) as resp:
        page = await resp.text()
    assert 'type="radio"' not in page
    assert f'value="{sim.default_user_id}"' in page


async def test_consent_form_errors(
    http: aiohttp.ClientSession, sim_url: str, sim: Simulator
) -> None:
    async with http.post(f"{sim_url}/oauth/authorize", data={"client_id": "nope"}) as resp:
        assert resp.status == 400
    form = {
        "client_id": "sim-client-id",
        "decision": "approve",
        "redirect_uri": "http://127.0.0.1/cb",
    }
    async with http.post(
        f"{sim_url}/oauth/authorize", data={**form, "user_id": "1"}, allow_redirects=False
    ) as resp:
        assert resp.status == 400
    async with http.post(
        f"{sim_url}/oauth/authorize", data={**form, "user_id": "x"}, allow_redirects=False
    ) as resp:
        assert resp.status == 302  # falls back to the default user
        code = parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]
    assert sim.codes[code].user_id == sim.default_user_id


async def test_token_without_code(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.post(
        f"{sim_url}/oauth/token", params={"grant_type": "authorization_code"}, headers=basic()
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"


async def test_search_malformed_bodies(
    call: Any, http: aiohttp.ClientSession, sim_url: str, tokens: dict[str, Any]
) -> None:
    headers = {
        "key": "sim-api-key",
        "Authorization": f"Bearer {tokens['access_token']}",
        "Content-Type": "application/json",
    }
    async with http.post(
        f"{sim_url}/api/v4/systems/search", data="{not json", headers=headers
    ) as resp:
        assert resp.status == 422
    status, body = await call("/search", method="POST", json_body=[1])
    assert status == 422
    status, body = await call("/search", method="POST", json_body={"system": {"ids": ["x"]}})
    assert (status, body["details"]) == (422, "system[ids] must be an array of integers")


async def test_bad_ids_in_paths_and_params(call: Any) -> None:
    status, body = await call("/abc/summary")
    assert (status, body["details"]) == (404, 'System not found for {:id=>"abc"}')
    status, _ = await call("/event_types", params={"event_type_id": "x"})
    assert status == 404
    status, body = await call(f"/{SYSTEM_ID}/events", params={"start_time": 1, "end_time": "y"})
    assert (status, body["details"]) == (422, "Failed to parse date y")


async def test_inverters_summary_skips_micros_of_retired_envoys(sim: Simulator, call: Any) -> None:
    sim.update_device(SYSTEM_ID, "202323054201", {"retired": True})
    status, body = await call("/inverters_summary_by_envoy_or_site", params={"site_id": SYSTEM_ID})
    assert (status, body) == (200, [])


async def test_authorize_and_token_are_logged(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    params = {
        "response_type": "code",
        "client_id": "sim-client-id",
        "redirect_uri": "http://127.0.0.1/cb",
        "state": "s",
    }
    async with http.get(f"{sim_url}/oauth/authorize", params=params, allow_redirects=False) as resp:
        code = parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]
    async with http.post(
        f"{sim_url}/oauth/token",
        headers=basic(),
        params={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1/cb",
        },
    ) as resp:
        assert resp.status == 200
    assert [(e["endpoint"], e["status"]) for e in sim.request_log] == [
        ("authorize", 302),
        ("token", 200),
    ]
    assert "code" not in sim.request_log[1]["query"]
    assert "state" not in sim.request_log[0]["query"]
