//go:build integration

package doctor

// This file puts package doctor in the integration run, which scripts/test.sh
// runs as the non-root test user: tests that root would pass trivially (an
// unreadable directory is readable to root) run for real there.
