"""planner.probe.allowlist: the hosts a shared dashboard may probe, set by its operator."""

import pytest

from planner.probe import allowlist


@pytest.fixture(autouse=True)
def no_operator_settings(monkeypatch, tmp_path):
    for name in (allowlist.ALLOW_ENV, allowlist.LEGACY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(allowlist.ALLOW_FILE_ENV, str(tmp_path / "absent.txt"))


def refused(rules: allowlist.AllowList, url: str) -> bool:
    try:
        rules.check(url)
    except allowlist.TargetNotAllowed:
        return True
    return False


def test_loopback_only_by_default():
    rules = allowlist.current()
    assert rules.origin == "default" and "this machine only" in rules.describe()
    for url in ("http://127.0.0.1:8000/v1", "http://localhost:11434", "http://[::1]:8000/v1", "127.0.0.1:8000"):
        assert not refused(rules, url), url
    # A visitor's choice of target: public hosts, private networks and the cloud metadata address.
    for url in ("http://192.0.2.10/v1", "http://10.0.0.5:8000/v1", "http://169.254.169.254/latest", "https://example.com"):
        assert refused(rules, url), url


def test_the_environment_sets_hosts_networks_wildcards_and_ports(monkeypatch):
    monkeypatch.setenv(allowlist.ALLOW_ENV, "gpu-box:8000, 10.0.0.0/8, *.lab.example.com")
    rules = allowlist.current()
    assert rules.origin == "environment" and "gpu-box:8000" in rules.describe()
    assert not refused(rules, "http://gpu-box:8000/v1") and refused(rules, "http://gpu-box:9000/v1")
    assert not refused(rules, "http://10.1.2.3/v1") and refused(rules, "http://11.1.2.3/v1")
    assert not refused(rules, "https://a.lab.example.com/v1") and refused(rules, "https://lab.example.com.evil.net/v1")
    assert refused(rules, "http://127.0.0.1:8000/v1"), "setting a list replaces the loopback default"


def test_a_file_sets_it_when_the_environment_does_not(monkeypatch, tmp_path):
    path = tmp_path / "probe-allow.txt"
    path.write_text("# lab machines\n192.168.1.0/24  # rack A\n")
    monkeypatch.setenv(allowlist.ALLOW_FILE_ENV, str(path))
    rules = allowlist.current()
    assert rules.origin == "file" and rules.entries == ("192.168.1.0/24",)
    assert str(tmp_path) not in rules.describe(), "the page must not show a server path"
    assert not refused(rules, "http://192.168.1.20:8000/v1") and refused(rules, "http://192.168.2.20/v1")


def test_a_star_allows_any_host(monkeypatch):
    monkeypatch.setenv(allowlist.ALLOW_ENV, "*")
    assert not refused(allowlist.current(), "https://anything.example/v1")
    assert "any host" in allowlist.current().describe()


def test_a_url_without_a_host_is_refused():
    assert refused(allowlist.current(), "http:///v1")
