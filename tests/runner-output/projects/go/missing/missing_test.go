package missing

import "testing"

func TestPower(t *testing.T) {
	if Power(2, 3) != 8 {
		t.Fatal("2^3 should be 8")
	}
	var c Calculator
	if c.Double(2) != 4 {
		t.Fatal("double 2 should be 4")
	}
	if Exists() != 1 {
		t.Fatal("Exists should be 1")
	}
}
