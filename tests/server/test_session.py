"""The web UI's session (issue 11): a key once for a signed HttpOnly, SameSite=Strict cookie,
CSRF on writes, and a session that ends with its key."""

from __future__ import annotations

import hashlib
import sqlite3
import time

import httpx

from tether.server.testing import LiveServer


def _sign_in(server: LiveServer, key: str | None = None) -> httpx.Response:
    return httpx.post(
        server.base_url + "/api/v1/session", json={"key": key or server.api_key}, timeout=30
    )


def _revoke(server: LiveServer, key: str) -> None:
    digest = hashlib.sha256(key.encode()).hexdigest()
    with sqlite3.connect(server.data_dir / "tether.db") as database:
        columns = [row[1] for row in database.execute("PRAGMA table_info(api_keys)")]
        if "revoked_at" in columns:
            database.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE digest = ?", (time.time(), digest)
            )
        else:
            database.execute("DELETE FROM api_keys WHERE digest = ?", (digest,))


def test_sign_in_sets_a_strict_httponly_session_cookie(live_server: LiveServer) -> None:
    response = _sign_in(live_server)
    assert response.status_code == 200, response.text
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("tether_session="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert live_server.api_key not in session  # the cookie names the key, never holds it
    csrf = next(c for c in cookies if c.startswith("tether_csrf="))
    assert "HttpOnly" not in csrf  # the page reads it to echo it on writes
    with httpx.Client(base_url=live_server.base_url, cookies=response.cookies) as browser:
        assert browser.get("/api/v1/session").json()["user"] == "admin"
        assert browser.get("/api/v1/projects").status_code == 200


def test_the_cookie_is_secure_behind_a_tls_proxy(live_server: LiveServer) -> None:
    assert "Secure" not in _sign_in(live_server).headers["set-cookie"]  # plain http: no
    behind_tls = httpx.post(
        live_server.base_url + "/api/v1/session",
        json={"key": live_server.api_key},
        headers={"X-Forwarded-Proto": "https"},
    )
    cookies = behind_tls.headers.get_list("set-cookie")
    assert cookies and all("Secure" in cookie for cookie in cookies), cookies


def test_a_wrong_key_opens_no_session(live_server: LiveServer) -> None:
    response = _sign_in(live_server, "tth_" + "x" * 40)
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_a_form_post_cannot_sign_in(live_server: LiveServer) -> None:
    # Another site's page can post a form, never JSON: no login CSRF.
    response = httpx.post(
        live_server.base_url + "/api/v1/session", data={"key": live_server.api_key}
    )
    assert 400 <= response.status_code < 500
    assert "set-cookie" not in response.headers


def test_a_forged_cookie_is_refused(live_server: LiveServer) -> None:
    good = _sign_in(live_server).cookies["tether_session"]
    payload, signature = good.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for cookie in (f"{payload}.{flipped}", "e30.AAAA", "garbage"):
        response = httpx.get(
            live_server.base_url + "/api/v1/projects", cookies={"tether_session": cookie}
        )
        assert response.status_code == 401, cookie


def test_writes_with_the_cookie_need_the_csrf_header(live_server: LiveServer) -> None:
    signed_in = _sign_in(live_server)
    csrf = signed_in.cookies["tether_csrf"]
    with httpx.Client(base_url=live_server.base_url, cookies=signed_in.cookies) as browser:
        refused = browser.delete("/api/v1/session")
        assert refused.status_code == 403
        assert "X-Tether-CSRF" in refused.json()["detail"] or "x-tether-csrf" in refused.text
        wrong = browser.delete("/api/v1/session", headers={"X-Tether-CSRF": "not-it"})
        assert wrong.status_code == 403
        upload = browser.put("/api/v1/projects/p/runs/r/segments/w", content=b"")
        assert upload.status_code == 403
        ended = browser.delete("/api/v1/session", headers={"X-Tether-CSRF": csrf})
        assert ended.status_code == 200


def test_revoking_the_key_ends_its_sessions_at_once(live_server: LiveServer) -> None:
    cookies = _sign_in(live_server).cookies
    url = live_server.base_url + "/api/v1/projects"
    assert httpx.get(url, cookies=cookies).status_code == 200
    _revoke(live_server, live_server.api_key)
    response = httpx.get(url, cookies=cookies)
    assert response.status_code == 401
    assert "sign in again" in response.json()["detail"]
