package runtime

import (
	"errors"
	"fmt"
	"path"
	"sync"
)

// ReadFiles makes ReadImageFiles' answer for a backend from read, which
// copies one file (the clean absolute form of a path) out of the throwaway
// container of image ref. It reads every path at once. A path read reports
// ErrNotFound for is left out of the map; any other error fails the call,
// naming the path and the image.
func ReadFiles(ref string, paths []string, read func(file string) ([]byte, error)) (map[string][]byte, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		files = make(map[string][]byte, len(paths))
		errs  = make([]error, len(paths))
	)
	for i, p := range paths {
		wg.Go(func() {
			b, err := read(path.Clean("/" + p))
			switch {
			case errors.Is(err, ErrNotFound):
				// Absent from the image: absent from the map.
			case err != nil:
				errs[i] = fmt.Errorf("reading %s from image %s: %w", p, ref, err)
			default:
				mu.Lock()
				files[p] = b
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return files, nil
}
