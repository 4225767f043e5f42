import pytest


@pytest.fixture
def broken_db():
    raise RuntimeError("database fixture could not connect")
