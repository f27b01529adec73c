"""Fixtures of the robustness tests; the helpers live in harness.py."""
import pytest

from harness import Host  # noqa: F401


@pytest.fixture
def make_host(tmp_path):
    hosts = []

    def make(*a, **kw):
        h = Host(*a, **kw)
        hosts.append(h)
        return h

    yield make
    for h in hosts:
        h.kill()


def pytest_configure(config):
    config.addinivalue_line("markers", "other_leecher: the honest leecher runs the other implementation")
