package missingpkg

import (
	"testing"

	"example.com/rr/geometry"
)

func TestArea(t *testing.T) {
	if geometry.Area(2, 3) != 6 {
		t.Fatal("area of 2x3 should be 6")
	}
}
