package project

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/runtime"
)

func TestParsePort(t *testing.T) {
	tests := []struct {
		in      string
		want    runtime.Port
		wantMsg string
	}{
		{in: "5000", want: runtime.Port{HostPort: 5000, ContainerPort: 5000, Protocol: "tcp"}},
		{in: "5000:5000", want: runtime.Port{HostPort: 5000, ContainerPort: 5000, Protocol: "tcp"}},
		{in: "127.0.0.1:8080:80", want: runtime.Port{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}},
		{in: "[::1]:8080:80/udp", want: runtime.Port{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "udp"}},
		{in: "8080:80/udp", want: runtime.Port{HostPort: 8080, ContainerPort: 80, Protocol: "udp"}},
		{in: "1:65535", want: runtime.Port{HostPort: 1, ContainerPort: 65535, Protocol: "tcp"}},
		{in: "", wantMsg: "is not a port mapping " + portFix},
		{in: "0", wantMsg: "has port 0 out of range (use 1-65535)"},
		{in: "65536:1", wantMsg: "has port 65536 out of range (use 1-65535)"},
		{in: "123456", wantMsg: "is not a port mapping " + portFix},
		{in: "+80", wantMsg: "is not a port mapping " + portFix},
		{in: "80:", wantMsg: "is not a port mapping " + portFix},
		{in: "a:b:c:d", wantMsg: "is not a port mapping " + portFix},
		{in: "::1:80:80", wantMsg: "is not a port mapping " + portFix},
		{in: "127.0.0.1::80", wantMsg: "is not a port mapping " + portFix},
		{in: "localhost:80:80", wantMsg: `has an invalid host IP "localhost" (use an IPv4 address, or an IPv6 one in brackets: "[::1]:8080:80")`},
		{in: "[127.0.0.1]:80:80", wantMsg: `has an invalid IPv6 address "127.0.0.1" (write e.g. "[::1]:8080:80")`},
		{in: "[::1]80:80", wantMsg: "is not a port mapping " + portFix},
		{in: "80/sctp", wantMsg: `has protocol "sctp" (use tcp or udp)`},
		{in: "80/TCP", wantMsg: `has protocol "TCP" (use tcp or udp)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, msg := parsePort(tt.in)
			if diff := cmp.Diff(tt.wantMsg, msg); diff != "" {
				t.Fatalf("message (-want +got):\n%s", diff)
			}
			if msg != "" {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parsePort (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in                   string
		wantName, wantTarget string
		wantMsg              string
	}{
		{in: "bundle:/usr/local/bundle", wantName: "bundle", wantTarget: "/usr/local/bundle"},
		{in: "A.b_c-1:/x", wantName: "A.b_c-1", wantTarget: "/x"},
		{in: "bundle", wantMsg: `is not NAME:/PATH (write e.g. "bundle:/usr/local/bundle")`},
		{in: ":/x", wantMsg: `has an invalid volume name "" (start with a letter or digit, then letters, digits, '_', '.' or '-')`},
		{in: "_x:/x", wantMsg: `has an invalid volume name "_x" (start with a letter or digit, then letters, digits, '_', '.' or '-')`},
		{in: "a b:/x", wantMsg: `has an invalid volume name "a b" (start with a letter or digit, then letters, digits, '_', '.' or '-')`},
		{in: "x:", wantMsg: `has a relative target "" (write "x:/")`},
		{in: "x:data", wantMsg: `has a relative target "data" (write "x:/data")`},
		{in: "x:/", wantMsg: `mounts over the root directory (mount the volume at a directory, e.g. "x:/data")`},
		{in: "x:/data/", wantMsg: `has an unclean target "/data/" (write "x:/data")`},
		{in: "x:/data:ro", wantMsg: `has options or a stray ':' after the target (write NAME:/PATH, e.g. "x:/data"; options such as :ro are not supported)`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, target, msg := parseVolume(tt.in)
			if diff := cmp.Diff(tt.wantMsg, msg); diff != "" {
				t.Fatalf("message (-want +got):\n%s", diff)
			}
			if name != tt.wantName || target != tt.wantTarget {
				t.Errorf("parseVolume = %q, %q; want %q, %q", name, target, tt.wantName, tt.wantTarget)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"blog", "blog"},
		{"My Blog", "my-blog"},
		{"my - blog", "my-blog"},
		{"__init__", "init"},
		{"a..b", "a.b"},
		{"Ünïcode", "n-code"},
		{"/", "project"},
		{"", "project"},
		{"...", "project"},
		{string(make([]byte, 300)), "project"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := sanitizeName(tt.in)
			if got != tt.want {
				t.Errorf("sanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if !validName(got) {
				t.Errorf("sanitizeName(%q) = %q is not a valid name", tt.in, got)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"blog", true},
		{"site.v2", true},
		{"a_b-c", true},
		{"9", true},
		{"", false},
		{"Blog", false},
		{"-blog", false},
		{"blog-", false},
		{"a--b", false},
		{"a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := validName(tt.in); got != tt.want {
				t.Errorf("validName(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeCap(t *testing.T) {
	tests := []struct{ in, want string }{
		{"all", "ALL"},
		{"chown", "CAP_CHOWN"},
		{"CAP_NET_RAW", "CAP_NET_RAW"},
		{"cap_sys_admin", "CAP_SYS_ADMIN"},
		{"CAP_ALL", ""},
		{"NOPE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, msg := normalizeCap(tt.in)
			if got != tt.want || (msg == "") != (tt.want != "") {
				t.Errorf("normalizeCap(%q) = %q, %q; want %q", tt.in, got, msg, tt.want)
			}
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"unix:///run/docker.sock", true},
		{"tcp://127.0.0.1:2375", true},
		{"tcp://localhost:2375", true},
		{"tcp://[::1]:2375", true},
		{"tcp://build.example:2375", false},
		{"ssh://me@host", false},
		{"ssh://me@127.0.0.1", false},
		{"", false},
		{"unix://run/docker.sock", false},
		{"/run/docker.sock", false},
		{"http://host", false},
		{"tcp://", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if msg := checkEndpoint(tt.in); (msg == "") != tt.ok {
				t.Errorf("checkEndpoint(%q) = %q, want ok %v", tt.in, msg, tt.ok)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	src := `# comment [x]
name = "a" # key = 1
s = """
fake = 1
"""
l = '''
[fake]
'''
[run]
  command = ["a",
    "b", # "c"
  ]
  "quoted key".x = 'v'
env = { A = "1", "B.C" = { D = [1, [2, 3]] } }
[[arr]]
k = 1
[[arr]]
k = 2
[ "t" . u ]
v = "\"\u00e9\\"
"é" = 1
`
	got := locate(src)
	want := map[string]pos{
		posKey([]string{"name"}):                                           {line: 2, col: 1, lead: true},
		posKey([]string{"s"}):                                              {line: 3, col: 1, lead: true},
		posKey([]string{"l"}):                                              {line: 6, col: 1, lead: true},
		posKey([]string{"run"}):                                            {line: 9, col: 2, lead: true},
		posKey([]string{"run", "command"}):                                 {line: 10, col: 3, lead: true},
		posKey([]string{"run", "command", elemSeg(0)}):                     {line: 10, col: 14},
		posKey([]string{"run", "command", elemSeg(1)}):                     {line: 11, col: 5, lead: true},
		posKey([]string{"run", "quoted key"}):                              {line: 13, col: 3, lead: true},
		posKey([]string{"run", "quoted key", "x"}):                         {line: 13, col: 16},
		posKey([]string{"run", "env"}):                                     {line: 14, col: 1, lead: true},
		posKey([]string{"run", "env", "A"}):                                {line: 14, col: 9},
		posKey([]string{"run", "env", "B.C"}):                              {line: 14, col: 18},
		posKey([]string{"run", "env", "B.C", "D"}):                         {line: 14, col: 28},
		posKey([]string{"run", "env", "B.C", "D", elemSeg(0)}):             {line: 14, col: 33},
		posKey([]string{"run", "env", "B.C", "D", elemSeg(1)}):             {line: 14, col: 36},
		posKey([]string{"run", "env", "B.C", "D", elemSeg(1), elemSeg(0)}): {line: 14, col: 37},
		posKey([]string{"run", "env", "B.C", "D", elemSeg(1), elemSeg(1)}): {line: 14, col: 40},
		posKey([]string{"arr"}):                                            {line: 15, col: 3, lead: true},
		posKey([]string{"arr", "k"}):                                       {line: 16, col: 1, lead: true},
		posKey([]string{"t"}):                                              {line: 19, col: 3, lead: true},
		posKey([]string{"t", "u"}):                                         {line: 19, col: 9},
		posKey([]string{"t", "u", "v"}):                                    {line: 20, col: 1, lead: true},
		posKey([]string{"t", "u", "é"}):                                    {line: 21, col: 1, lead: true},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(pos{})); diff != "" {
		t.Errorf("locate (-want +got):\n%s", diff)
	}
}
