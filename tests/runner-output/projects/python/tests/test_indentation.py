def test_indented():
    x = 1
      assert x == 1
