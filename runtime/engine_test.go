package runtime

import (
	"errors"
	"testing"
)

func TestPortProto(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "", want: "tcp"},
		{in: "tcp", want: "tcp"},
		{in: "udp", want: "udp"},
		{in: "sctp", wantErr: true},
		{in: "TCP", wantErr: true},
	}
	for _, tt := range tests {
		got, err := Port{ContainerPort: 53, Protocol: tt.in}.Proto()
		if got != tt.want || (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, ErrUnsupported)) {
			t.Errorf("Proto(%q) = %q, %v; want %q, error %v wrapping ErrUnsupported", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
