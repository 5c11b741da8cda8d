"""Enforcement configuration and the admin token's secrecy (the Admin API itself: tests/integration)."""

from __future__ import annotations

import logging

import msgspec
import pytest

from bulkguard.integrations.synapse.admin import AdminApi, EnforcementConfig, Secret


def test_secret_hides_itself(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Secret("  tok-123456789  \n")
    assert s.reveal() == "tok-123456789"
    assert "tok" not in repr(s) and "tok" not in str(s) and "tok" not in f"{s}"
    f = tmp_path / "token"
    f.write_text("from-file\n")
    assert Secret.load(file=f).reveal() == "from-file"
    monkeypatch.setenv("BG_TOKEN", "from-env")
    assert Secret.load(env="BG_TOKEN").reveal() == "from-env"
    with pytest.raises(FileNotFoundError, match="secret file not found"):
        Secret.load(file=tmp_path / "missing")
    with pytest.raises(KeyError, match="BG_NOPE"):
        Secret.load(env="BG_NOPE")
    with pytest.raises(ValueError, match="empty"):
        Secret(" ")


def test_admin_client_does_not_show_the_token(caplog: pytest.LogCaptureFixture) -> None:
    api = AdminApi("http://127.0.0.1:9", Secret("sekrit-admin-token"))
    try:
        caplog.set_level(logging.DEBUG)
        with pytest.raises(Exception) as err:
            api.user("@a:hs")   # nothing listens on port 9
        assert "sekrit" not in str(err.value)
        assert all("sekrit" not in r.getMessage() for r in caplog.records)
    finally:
        api.close()


def test_the_ladder_is_cumulative_and_configurable() -> None:
    c = EnforcementConfig()
    assert [c.steps(a) for a in ("throttle", "challenge", "suspend", "ban", "reject", "reinstate")] == [
        ["ratelimit"], ["ratelimit", "suspend"], ["ratelimit", "suspend"],
        ["ratelimit", "suspend", "shadow_ban"], [], []]
    d = msgspec.convert({"ban_as": "deactivate", "challenge_as": "throttle"}, EnforcementConfig)
    assert d.steps("challenge") == ["ratelimit"] and d.steps("ban")[-1] == "deactivate"
    with pytest.raises(msgspec.ValidationError, match="ban_as"):
        msgspec.convert({"ban_as": "delete"}, EnforcementConfig)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"ban": "shadow_ban"}, EnforcementConfig)
    with pytest.raises(ValueError, match="0 would lift every limit"):
        EnforcementConfig(throttle_messages_per_second=0)
