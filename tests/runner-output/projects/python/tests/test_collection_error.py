import os

SETTINGS = os.environ["RR_SETTINGS_THAT_IS_NEVER_SET"]


def test_uses_settings():
    assert SETTINGS
