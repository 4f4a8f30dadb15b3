"""OAuth2 as NOTES.md describes it: Basic client auth, query parameters, rotation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from sim_helpers import basic

from simulator import Simulator

REDIRECT = "https://example.invalid/auth/external/callback"


async def get_code(
    http: aiohttp.ClientSession, sim_url: str, client_id: str = "sim-client-id", state: str = "xyz"
) -> str:
    async with http.get(
        f"{sim_url}/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "state": state,
        },
        allow_redirects=False,
    ) as resp:
        assert resp.status == 302
        location = urlparse(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == [state]
    return query["code"][0]


async def post_token(
    http: aiohttp.ClientSession,
    sim_url: str,
    params: dict[str, str],
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with http.post(
        f"{sim_url}/oauth/token", params=params, headers=basic() if headers is None else headers
    ) as resp:
        return resp.status, await resp.json()


async def exchange(http: aiohttp.ClientSession, sim_url: str, code: str) -> tuple[int, Any]:
    return await post_token(
        http,
        sim_url,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )


async def test_auto_approve_code_exchange(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    code = await get_code(http, sim_url)
    status, body = await exchange(http, sim_url, code)
    assert status == 200
    assert set(body) >= {
        "access_token",
        "refresh_token",
        "expires_in",
        "token_type",
        "scope",
        "enl_uid",
        "enl_cid",
        "app_type",
        "jti",
    }
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86393
    assert body["enl_uid"] == sim.default_user_id
    assert isinstance(body["enl_uid"], int)
    status, _ = await _systems(http, sim_url, body["access_token"])
    assert status == 200


async def _systems(
    http: aiohttp.ClientSession, sim_url: str, access: str, key: str = "sim-api-key"
) -> tuple[int, Any]:
    async with http.get(
        f"{sim_url}/api/v4/systems", headers={"Authorization": f"Bearer {access}", "key": key}
    ) as resp:
        return resp.status, await resp.json()


async def test_code_is_single_use(http: aiohttp.ClientSession, sim_url: str) -> None:
    code = await get_code(http, sim_url)
    assert (await exchange(http, sim_url, code))[0] == 200
    status, body = await exchange(http, sim_url, code)
    assert status == 400
    assert body["error"] == "invalid_grant"


async def test_code_bound_to_client_and_redirect(http: aiohttp.ClientSession, sim_url: str) -> None:
    code = await get_code(http, sim_url)
    status, body = await post_token(
        http,
        sim_url,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic("sim-other-client-id", "sim-other-client-secret"),
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    code = await get_code(http, sim_url)
    status, body = await post_token(
        http,
        sim_url,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://other.invalid/cb",
        },
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_code_expires(sim: Simulator, http: aiohttp.ClientSession, sim_url: str) -> None:
    code = await get_code(http, sim_url)
    sim.clock.advance(timedelta(minutes=11))
    status, body = await exchange(http, sim_url, code)
    assert (status, body["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic !!!"},
        basic(secret="wrong"),
        basic(client_id="nobody"),
    ],
)
async def test_basic_auth_required(
    headers: dict[str, str], http: aiohttp.ClientSession, sim_url: str
) -> None:
    code = await get_code(http, sim_url)
    status, body = await post_token(
        http,
        sim_url,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=headers,
    )
    assert status == 401
    assert body["error"] in {"unauthorized", "invalid_client"}


async def test_params_must_be_in_query(http: aiohttp.ClientSession, sim_url: str) -> None:
    code = await get_code(http, sim_url)
    async with http.post(
        f"{sim_url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic(),
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"] == "invalid_request"


async def test_form_body_accepted_when_switched_on(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    sim.accept_form_body = True
    code = await get_code(http, sim_url)
    async with http.post(
        f"{sim_url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic(),
    ) as resp:
        assert resp.status == 200


async def test_refresh_rotates(sim: Simulator, http: aiohttp.ClientSession, sim_url: str) -> None:
    first = sim.issue_tokens()
    status, second = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["enl_uid"] == first["enl_uid"]
    # The old refresh token died with the rotation.
    status, body = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _ = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert status == 200


async def test_refresh_needs_same_client(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    tokens = sim.issue_tokens()
    status, body = await post_token(
        http,
        sim_url,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic("sim-other-client-id", "sim-other-client-secret"),
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_revoked_refresh_token(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    tokens = sim.issue_tokens()
    async with http.post(
        f"{sim_url}/_sim/tokens/revoke", json={"refresh_token": tokens["refresh_token"]}
    ) as resp:
        assert (await resp.json()) == {"revoked": 1}
    status, body = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_refresh_token_expires_after_30_days(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    tokens = sim.issue_tokens()
    sim.clock.advance(timedelta(days=30, seconds=1))
    status, body = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert status in (400, 401)
    assert body["error"] in {"invalid_grant", "invalid_token"}


async def test_access_token_expires(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    sim.token_lifetime = 60
    tokens = sim.issue_tokens()
    assert tokens["expires_in"] == 60
    assert (await _systems(http, sim_url, tokens["access_token"]))[0] == 200
    sim.clock.advance(61)
    status, body = await _systems(http, sim_url, tokens["access_token"])
    assert status == 401
    assert body == {"message": "Not Authorized", "details": "User is not authorized", "code": 401}


async def test_unsupported_and_missing_grant(http: aiohttp.ClientSession, sim_url: str) -> None:
    status, body = await post_token(http, sim_url, {"grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    status, body = await post_token(http, sim_url, {"grant_type": "refresh_token"})
    assert (status, body["error"]) == (400, "invalid_request")


async def test_authorize_page_approve_and_deny(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    sim.auto_approve = False
    params = {
        "response_type": "code",
        "client_id": "sim-client-id",
        "redirect_uri": REDIRECT,
        "state": "s1",
    }
    async with http.get(f"{sim_url}/oauth/authorize", params=params) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "Approve" in page
    assert "Deny" in page
    # small_home has a second user (the neighbour), so the page offers a choice.
    assert 'name="user_id"' in page
    form = {"client_id": "sim-client-id", "redirect_uri": REDIRECT, "state": "s1"}
    async with http.post(
        f"{sim_url}/oauth/authorize", data={**form, "decision": "deny"}, allow_redirects=False
    ) as resp:
        assert resp.status == 302
        query = parse_qs(urlparse(resp.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["s1"]}
    other_user = next(u for u in sim.users if u != sim.default_user_id)
    async with http.post(
        f"{sim_url}/oauth/authorize",
        data={**form, "decision": "approve", "user_id": str(other_user)},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 302
        query = parse_qs(urlparse(resp.headers["Location"]).query)
    status, body = await exchange(http, sim_url, query["code"][0])
    assert status == 200
    assert body["enl_uid"] == other_user


async def test_authorize_unknown_client(http: aiohttp.ClientSession, sim_url: str) -> None:
    async with http.get(
        f"{sim_url}/oauth/authorize", params={"response_type": "code", "client_id": "nope"}
    ) as resp:
        assert resp.status == 400


async def test_token_fault_injection(
    sim: Simulator, http: aiohttp.ClientSession, sim_url: str
) -> None:
    tokens = sim.issue_tokens()
    sim.fail_next(1, 503, endpoint="token")
    status, _ = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert status == 503
    # The failed attempt did not consume the refresh token.
    status, _ = await post_token(
        http, sim_url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
