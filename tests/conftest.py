"""Shared fixtures: the reference module runs in its own virtualenv (.venv-ref),
reached through a subprocess so that it never shares an interpreter with ours."""
import pytest

from ltdiff import run_ours, run_ref


@pytest.fixture
def ref():
    return run_ref


@pytest.fixture
def ours():
    return run_ours
