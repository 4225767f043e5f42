import pytest

import calc


def test_add_passes():
    assert calc.add(2, 3) == 5


def test_add_assertion_fails():
    assert calc.add(2, 2) == 5


def test_plain_assertion_error():
    raise AssertionError("totals differ")


@pytest.mark.skip(reason="not ready yet")
def test_skipped():
    assert False


@pytest.mark.xfail(reason="rounding is not implemented")
def test_expected_failure():
    assert calc.divide(1, 3) == 0.33


def test_fixture_error(broken_db):
    assert broken_db


def test_unknown_fixture(no_such_fixture):
    assert no_such_fixture


def test_missing_attribute():
    assert calc.multiply(2, 3) == 6


def test_missing_name():
    assert subtract(3, 2) == 1  # noqa: F821


def test_unexpected_exception():
    assert calc.divide(1, 0) == 0


class TestGroup:
    def test_in_class_passes(self):
        assert calc.divide(6, 3) == 2

    @pytest.mark.parametrize("a,b,total", [(1, 1, 2), (2, 2, 5)])
    def test_parametrized(self, a, b, total):
        assert calc.add(a, b) == total
