"""The `usage-widgets serve` command line: what it runs and the security it insists on."""

from __future__ import annotations

from pathlib import Path

import pytest

from usage_widgets import cli


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(cli.os, "execve", lambda exe, argv, env: calls.append((argv, env)))
    monkeypatch.setattr(cli, "warm_up", lambda: calls.append((["warm up"], {})))
    return calls


def option(argv: list[str], name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in argv if a.startswith(name + "=")]
    return values[-1] if values else None


def test_loopback_by_default_without_token(launched, capsys) -> None:
    cli.main(["serve", "--port", "9123"])
    assert launched[0] == (["warm up"], {})  # the kernel is compiled before the server starts
    argv, env = launched[1]
    assert option(argv, "--Voila.ip") == "127.0.0.1"
    assert option(argv, "--port") == "9123"
    assert option(argv, "--token") == ""
    assert "USAGE_LOG" not in env
    assert "http://127.0.0.1:9123/" in capsys.readouterr().out


def test_sources_and_tracebacks_never_reach_the_page(launched) -> None:
    cli.main(["serve"])
    argv, _ = launched[-1]
    assert option(argv, "--strip_sources") == "True"
    assert option(argv, "--show_tracebacks") == "False"
    assert Path(argv[3]).name == "usage.ipynb" and Path(argv[3]).exists()
    assert int(option(argv, "--MappingKernelManager.cull_idle_timeout")) > 0


def test_other_address_gets_a_generated_token_printed_in_the_url(launched, capsys) -> None:
    cli.main(["serve", "--host", "0.0.0.0", "--port", "9124"])
    argv, _ = launched[-1]
    token = option(argv, "--token")
    assert token and len(token) >= 24
    assert f"?token={token}" in capsys.readouterr().out


def test_a_given_token_is_used(launched) -> None:
    cli.main(["serve", "--host", "10.1.2.3", "--token", "s3cret-token"])
    assert option(launched[-1][0], "--token") == "s3cret-token"


def test_log_path_is_passed_to_the_kernel_resolved(launched, tmp_path, monkeypatch) -> None:
    log = tmp_path / "requests.csv"
    log.write_text("x")
    monkeypatch.chdir(tmp_path)
    cli.main(["serve", "--log", "requests.csv", "--tz", "Asia/Kolkata"])
    env = launched[-1][1]
    assert env["USAGE_LOG"] == str(log)
    assert env["USAGE_TZ"] == "Asia/Kolkata"


def test_missing_log_is_refused_before_serving(launched, capsys) -> None:
    assert cli.main(["serve", "--log", "/no/such/requests.csv"]) == 2
    assert not launched
    assert "no log at" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.8.0.1", True),
     ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback


def test_an_unknown_time_zone_is_refused_before_serving(launched, capsys) -> None:
    assert cli.main(["serve", "--tz", "Mars/Olympus"]) == 2
    assert not launched
    assert "unknown time zone" in capsys.readouterr().err


def test_an_ipv6_address_is_bracketed_in_the_url(launched, capsys) -> None:
    cli.main(["serve", "--host", "::1", "--port", "9125"])
    assert "http://[::1]:9125/" in capsys.readouterr().out
