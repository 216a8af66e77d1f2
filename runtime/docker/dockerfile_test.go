package docker

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBaseImages(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		args       map[string]string
		want       []string
		wantErr    bool
	}{
		{
			name:       "single",
			dockerfile: "FROM debian:bookworm-slim\nRUN true\n",
			want:       []string{"debian:bookworm-slim"},
		},
		{
			name: "stages, scratch and platform",
			dockerfile: `# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
RUN go build
from scratch as empty
FROM build AS test
FROM Build
FROM debian:bookworm-slim
COPY --from=build /out /out
COPY --from=0 /a /a
COPY --from=nginx:latest /etc/nginx /etc/nginx
COPY --chown=1:1 a b
`,
			want: []string{"golang:1.26", "debian:bookworm-slim", "nginx:latest"},
		},
		{
			name: "arg defaults and build args",
			dockerfile: `ARG VARIANT=bookworm
ARG BASE="debian:${VARIANT}-slim"
ARG OTHER
FROM ${BASE}
ARG VARIANT=ignored-after-from
FROM $OTHER
FROM ${UNSET:-alpine:3}
FROM node:${VARIANT}
`,
			args: map[string]string{"OTHER": "ruby:3.3", "NOTDECLARED": "x"},
			want: []string{"debian:bookworm-slim", "ruby:3.3", "alpine:3", "node:bookworm"},
		},
		{
			name:       "build arg overrides default",
			dockerfile: "ARG BASE=debian:bookworm-slim\nFROM $BASE\n",
			args:       map[string]string{"BASE": "debian:trixie"},
			want:       []string{"debian:trixie"},
		},
		{
			name:       "continuations and comments",
			dockerfile: "FROM \\\n  # a comment inside\n  debian:bookworm-slim \\\n  AS base\nRUN echo \\\n  FROM nothing\nFROM base\n",
			want:       []string{"debian:bookworm-slim"},
		},
		{
			name:       "escape directive",
			dockerfile: "# escape=`\nFROM mcr.microsoft.com/windows `\n  AS w\nRUN dir c:\\\n",
			want:       []string{"mcr.microsoft.com/windows"},
		},
		{
			name:       "repeats dropped",
			dockerfile: "FROM a AS x\nFROM a\nCOPY --from=a / /\n",
			want:       []string{"a"},
		},
		{
			name:       "empty after substitution",
			dockerfile: "ARG BASE\nFROM $BASE\n",
			wantErr:    true,
		},
		{
			name:       "no FROM",
			dockerfile: "RUN true\n",
			wantErr:    true,
		},
		{
			name:       "malformed FROM",
			dockerfile: "FROM a b c d\n",
			wantErr:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := baseImages([]byte(tt.dockerfile), tt.args)
			if (err != nil) != tt.wantErr {
				t.Fatalf("baseImages() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("baseImages() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "B_1": "b", "E": ""}
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "plain", want: "plain"},
		{in: "$A", want: "a"},
		{in: "${A}x", want: "ax"},
		{in: "$B_1-$A", want: "b-a"},
		{in: "$Ax", want: ""},
		{in: "${E:-def}", want: "def"},
		{in: "${A:-def}", want: "a"},
		{in: "${A:+alt}", want: "alt"},
		{in: "${E:+alt}", want: ""},
		{in: `\$A`, want: "$A"},
		{in: "cost$", want: "cost$"},
		{in: "$1", want: "$1"},
		{in: "${A", wantErr: true},
		{in: "${A/x/y}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := expand(tt.in, vars)
			if (err != nil) != tt.wantErr {
				t.Fatalf("expand(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
