import calc


def test_broken(:
    assert calc.add(1, 1) == 2
