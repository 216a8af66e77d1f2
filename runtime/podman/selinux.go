package podman

import (
	"github.com/containers/podman/v5/libpod/define"
	"github.com/containers/podman/v5/pkg/specgen"
)

// disableLabels runs the container with label=disable, as `podman run
// --security-opt label=disable` asks for it: the option itself, and the
// annotation inspect reports security options from.
func disableLabels(s *specgen.SpecGenerator) {
	s.SelinuxOpts = append(s.SelinuxOpts, "disable")
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[define.InspectAnnotationLabel] = "disable"
}
