package syntax

import "testing"

func TestBroken(t *testing.T) {
	if One() != 1 {
		t.Fatal("one"
	}
}
