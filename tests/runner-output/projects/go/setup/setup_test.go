package setup

import (
	"os"
	"testing"
)

// TestMain fails before any test runs, as a broken fixture would.
func TestMain(m *testing.M) {
	if os.Getenv("RR_DATABASE_URL") == "" {
		println("setup: RR_DATABASE_URL is not set")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestNeedsDatabase(t *testing.T) {}
