package podman

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/internal/rundir"
)

// lockKeepIDCreate serialises this user's keep-id creates on one Podman
// service, across hpr processes. Rootless Podman 4.3.1 reads the subordinate
// id ranges for every keep-id create through libsubid, which is not safe for
// concurrent use: under parallel creates the service fails one with "keep-id
// requires additional UIDs or GIDs defined in /etc/subuid", or dies of a
// SIGSEGV in subid_get_uid_ranges (seen in `make bench`, during concurrent
// conformance probes). The lock is an flock on a file in hpr's directory
// for this user ($XDG_RUNTIME_DIR/hpr, rundir), one per endpoint, held for
// the create request only. Where no lock file can be made, or the directory
// cannot be trusted (another user's could hold the lock), creates go
// unserialised.
func lockKeepIDCreate(ctx context.Context, endpoint string) (unlock func(), err error) {
	return lockEndpoint(ctx, endpoint, nil)
}

// lockEndpoint is lockKeepIDCreate; busy, when not nil, is called each time
// the lock is found held by another.
func lockEndpoint(ctx context.Context, endpoint string, busy func()) (unlock func(), err error) {
	f, err := openLockFile(endpoint)
	if err != nil {
		return func() {}, nil
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return func() {}, nil
		}
		if busy != nil {
			busy()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another hpr's container create on %s: %w", endpoint, context.Cause(ctx))
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func openLockFile(endpoint string) (*os.File, error) {
	dir, err := rundir.Make("")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(endpoint))
	return os.OpenFile(filepath.Join(dir, "podman-create-"+hex.EncodeToString(sum[:8])+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
}
