package project

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/hostpersist/hpr/runtime"
)

// Parsers of single values. Each returns "" or the rest of a message that
// follows the quoted value: what is wrong and, in parentheses, the fix.

const maxNameLen = 128

// validName reports whether s is a valid project name: usable in image
// references (a repository path component) and in container and volume
// names.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	sep := true // at the start, a separator is not allowed
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			sep = false
		case c == '.' || c == '_' || c == '-':
			if sep {
				return false
			}
			sep = true
		default:
			return false
		}
	}
	return !sep
}

// sanitizeName turns s (a directory name) into a valid project name:
// lower case, other characters replaced by '-', runs of separators
// collapsed, separators trimmed from both ends; "project" when nothing is
// left.
func sanitizeName(s string) string {
	var b strings.Builder
	sep := true
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			sep = false
		case sep:
		case r == '.' || r == '_' || r == '-':
			b.WriteRune(r)
			sep = true
		default:
			b.WriteByte('-')
			sep = true
		}
		if b.Len() >= maxNameLen {
			break
		}
	}
	out := strings.TrimRight(b.String(), "._-")
	if out == "" {
		return "project"
	}
	return out
}

// checkMount checks [run] mount.
func checkMount(p string) string {
	clean := path.Clean("/" + p)
	switch {
	case p == "":
		return "is empty (write mount = \"/app\" or remove it)"
	case strings.ContainsAny(p, "\x00:,"):
		return "must not contain NUL, ':' or ',' (choose a plain path such as \"/app\")"
	case clean == "/":
		return "is the root directory (use a directory such as \"/app\")"
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("must be an absolute path (write mount = %q)", clean)
	case clean != p:
		return fmt.Sprintf("is not a clean path (write mount = %q)", clean)
	}
	return ""
}

const portFix = `(write "PORT", "HOST:CONTAINER" or "IP:HOST:CONTAINER", optionally ending in "/tcp" or "/udp")`

// parsePort parses "5000", "5000:5000", "127.0.0.1:8080:80",
// "[::1]:8080:80", each optionally followed by "/tcp" or "/udp". A lone
// port is published on the same host port.
func parsePort(s string) (runtime.Port, string) {
	p := runtime.Port{Protocol: "tcp"}
	spec := s
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		spec = s[:i]
		switch proto := s[i+1:]; proto {
		case "tcp", "udp":
			p.Protocol = proto
		default:
			return p, fmt.Sprintf("has protocol %q (use tcp or udp)", proto)
		}
	}
	var ip, host, ctr string
	if strings.HasPrefix(spec, "[") {
		end := strings.Index(spec, "]:")
		if end < 0 {
			return p, "is not a port mapping " + portFix
		}
		ip = spec[1:end]
		var ok bool
		if host, ctr, ok = strings.Cut(spec[end+2:], ":"); !ok || strings.Contains(ctr, ":") {
			return p, "is not a port mapping " + portFix
		}
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is6() || a.Zone() != "" {
			return p, fmt.Sprintf("has an invalid IPv6 address %q (write e.g. \"[::1]:8080:80\")", ip)
		}
	} else {
		parts := strings.Split(spec, ":")
		switch len(parts) {
		case 1:
			host, ctr = parts[0], parts[0]
		case 2:
			host, ctr = parts[0], parts[1]
		case 3:
			ip, host, ctr = parts[0], parts[1], parts[2]
			if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
				return p, fmt.Sprintf("has an invalid host IP %q (use an IPv4 address, or an IPv6 one in brackets: \"[::1]:8080:80\")", ip)
			}
		default:
			return p, "is not a port mapping " + portFix
		}
	}
	var msg string
	if p.HostPort, msg = parsePortNumber(host); msg != "" {
		return p, msg
	}
	if p.ContainerPort, msg = parsePortNumber(ctr); msg != "" {
		return p, msg
	}
	p.HostIP = ip
	return p, ""
}

func parsePortNumber(s string) (uint16, string) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, "is not a port mapping " + portFix
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Sprintf("has port %s out of range (use 1-65535)", s)
	}
	return uint16(n), ""
}

// parseVolume parses "name:/abs/path".
func parseVolume(s string) (name, target, msg string) {
	name, target, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", "is not NAME:/PATH (write e.g. \"bundle:/usr/local/bundle\")"
	}
	if !validVolumeName(name) {
		return "", "", fmt.Sprintf("has an invalid volume name %q (start with a letter or digit, then letters, digits, '_', '.' or '-')", name)
	}
	fix := fmt.Sprintf("%s:%s", name, path.Clean("/"+target))
	switch {
	case strings.ContainsAny(target, ":,\x00"):
		return "", "", fmt.Sprintf("has options or a stray ':' after the target (write NAME:/PATH, e.g. %q; options such as :ro are not supported)", name+":"+path.Clean("/"+strings.SplitN(target, ":", 2)[0]))
	case !strings.HasPrefix(target, "/"):
		return "", "", fmt.Sprintf("has a relative target %q (write %q)", target, fix)
	case path.Clean(target) == "/":
		return "", "", "mounts over the root directory (mount the volume at a directory, e.g. \"" + name + ":/data\")"
	case path.Clean(target) != target:
		return "", "", fmt.Sprintf("has an unclean target %q (write %q)", target, fix)
	}
	return name, target, ""
}

// validVolumeName matches [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func validVolumeName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_.-", rune(c))) {
			return false
		}
	}
	return true
}

func volumeMount(p *Project, name, target string) runtime.VolumeMount {
	return runtime.VolumeMount{Name: p.VolumeName(name), Target: target}
}

// capabilities are the Linux capabilities (capabilities(7), Linux 6.x)
// without the CAP_ prefix.
var capabilities = map[string]bool{
	"CHOWN": true, "DAC_OVERRIDE": true, "DAC_READ_SEARCH": true, "FOWNER": true,
	"FSETID": true, "KILL": true, "SETGID": true, "SETUID": true, "SETPCAP": true,
	"LINUX_IMMUTABLE": true, "NET_BIND_SERVICE": true, "NET_BROADCAST": true,
	"NET_ADMIN": true, "NET_RAW": true, "IPC_LOCK": true, "IPC_OWNER": true,
	"SYS_MODULE": true, "SYS_RAWIO": true, "SYS_CHROOT": true, "SYS_PTRACE": true,
	"SYS_PACCT": true, "SYS_ADMIN": true, "SYS_BOOT": true, "SYS_NICE": true,
	"SYS_RESOURCE": true, "SYS_TIME": true, "SYS_TTY_CONFIG": true, "MKNOD": true,
	"LEASE": true, "AUDIT_WRITE": true, "AUDIT_CONTROL": true, "SETFCAP": true,
	"MAC_OVERRIDE": true, "MAC_ADMIN": true, "SYSLOG": true, "WAKE_ALARM": true,
	"BLOCK_SUSPEND": true, "AUDIT_READ": true, "PERFMON": true, "BPF": true,
	"CHECKPOINT_RESTORE": true,
}

// normalizeCap turns "net_raw", "CAP_NET_RAW" or "all" into "CAP_NET_RAW"
// or "ALL", the spelling both engines accept.
func normalizeCap(s string) (string, string) {
	u := strings.ToUpper(s)
	if u == "ALL" {
		return "ALL", ""
	}
	u = strings.TrimPrefix(u, "CAP_")
	if !capabilities[u] {
		return "", "is not a Linux capability (see capabilities(7); write e.g. \"NET_BIND_SERVICE\" or \"ALL\")"
	}
	return "CAP_" + u, ""
}

// loopback reports whether host names this machine's loopback interface.
func loopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && a.IsLoopback()
}

// checkEndpoint checks an engine URI.
func checkEndpoint(s string) string {
	const fix = "(write unix:///path/to/engine.sock or tcp://127.0.0.1:PORT, or remove endpoint to detect the engine)"
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return "is not an endpoint URI " + fix
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "needs an absolute socket path after unix:// " + fix
		}
	case "tcp", "ssh":
		if u.Host == "" {
			return "has no host " + fix
		}
		if u.Scheme == "ssh" || !loopback(u.Hostname()) {
			return "names an engine on another machine (or as another user), and a project file may not send the project's commands there (remove endpoint and choose that engine yourself: --engine URI, HPR_ENGINE, or your Docker context or Podman connection)"
		}
	default:
		return "is not a unix, tcp or ssh URI " + fix
	}
	return ""
}
