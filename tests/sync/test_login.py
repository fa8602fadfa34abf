"""`tether login | logout | status | online | offline | disabled` and the files they write."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tether._client_config import (
    ClientConfig,
    config_path,
    directory_mode,
    forget_login,
    load_client_config,
    save_login,
    set_directory_mode,
)
from tether.errors import UsageError
from tether.server.testing import LiveServer

from .conftest import Cli, make_run


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_checks_the_key_and_stores_it_private(cli: Cli, live_server: LiveServer) -> None:
    refused = cli("login", "--host", live_server.base_url, "tth_not_a_key")
    assert refused.returncode == 1
    assert "refused the API key" in refused.stderr and "Traceback" not in refused.stderr
    assert not config_path().exists()

    done = cli("login", "--host", live_server.base_url, stdin=live_server.api_key + "\n")
    assert done.returncode == 0, done.stderr
    assert "as admin" in done.stdout
    path = config_path()
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert json.loads(path.read_text()) == {
        "api_key": live_server.api_key,
        "base_url": live_server.base_url,
    }
    assert live_server.api_key not in done.stdout + done.stderr


def test_status_shows_server_user_mode_and_pending_runs(
    logged_in: Cli, live_server: LiveServer, run_dir: Path
) -> None:
    make_run(run_dir)
    status = logged_in("status")
    assert status.returncode == 0, status.stderr
    assert live_server.base_url in status.stdout
    assert "admin (admin)" in status.stdout
    assert "mode:    online" in status.stdout
    assert "1 run(s)" in status.stdout and "tether sync" in status.stdout
    assert live_server.api_key not in status.stdout

    assert logged_in("sync", "-q").returncode == 0
    assert "nothing to upload" in logged_in("status").stdout

    assert logged_in("offline").returncode == 0
    assert directory_mode(run_dir) == "offline"
    assert "mode:    offline" in logged_in("status").stdout
    logged_in.extra_env["TETHER_MODE"] = "disabled"
    assert "mode:    disabled  (TETHER_MODE)" in logged_in("status").stdout


def test_logout_removes_the_key_and_keeps_the_server(
    logged_in: Cli, live_server: LiveServer
) -> None:
    out = logged_in("logout")
    assert out.returncode == 0 and "key removed" in out.stdout
    assert json.loads(config_path().read_text()) == {"base_url": live_server.base_url}
    assert load_client_config() is None
    status = logged_in("status")
    assert "none: run `tether login`" in status.stdout and "mode:    offline" in status.stdout
    sync = logged_in("sync")
    assert sync.returncode == 1 and "no API key: run `tether login`" in sync.stderr
    assert "No key was stored" in logged_in("logout").stdout


def test_environment_overrides_the_file(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_client_config() is None
    save_login("http://example.org:9000/", "tth_from_the_file_0123")
    assert load_client_config() == ClientConfig("http://example.org:9000", "tth_from_the_file_0123")
    monkeypatch.setenv("TETHER_API_KEY", "tth_from_the_env_4567")
    monkeypatch.setenv("TETHER_BASE_URL", "127.0.0.1:1234")
    config = load_client_config()
    assert config == ClientConfig("http://127.0.0.1:1234", "tth_from_the_env_4567")
    assert "tth_from_the_env_4567" not in repr(config)
    assert forget_login() is True
    assert load_client_config() == config  # the environment still has a key


def test_env_key_alone_is_enough(config_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TETHER_API_KEY", "tth_only_in_the_env_00")
    config = load_client_config()
    assert config is not None and config.base_url == "http://127.0.0.1:8080"


def test_broken_files_name_the_file_and_the_fix(config_home: Path, run_dir: Path) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"settings\.json is not valid JSON.*tether login"):
        load_client_config()
    path.write_text('{"api_key": 42}')
    with pytest.raises(UsageError, match=r"'api_key' should be a string"):
        load_client_config()
    local = run_dir / "tether" / "settings.json"
    local.parent.mkdir(parents=True)
    local.write_text('{"mode": "sometimes"}')
    with pytest.raises(UsageError, match=r"mode 'sometimes' is not one of .*tether offline"):
        directory_mode(run_dir)
    with pytest.raises(UsageError, match="not one of"):
        set_directory_mode(run_dir, "loud")


def test_mode_commands_write_the_directory_file(cli: Cli, run_dir: Path, tmp_path: Path) -> None:
    assert directory_mode(run_dir) is None
    other = tmp_path / "elsewhere"
    for mode in ("online", "offline", "disabled"):
        out = cli(mode, str(other))
        assert out.returncode == 0, out.stderr
        assert directory_mode(other) == mode
    assert json.loads((other / "tether" / "settings.json").read_text()) == {"mode": "disabled"}
    assert "No API key yet" in cli("online").stdout
    assert directory_mode(run_dir) == "online"
