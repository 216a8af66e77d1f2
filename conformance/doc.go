// Package conformance proves, engine by engine, that files a container
// writes into the project mount land on the host as the host user.
//
// Run tests one engine. It makes a test directory on the host and fills it
// with files the host user owns (the fixture), runs hpr's own static binary
// inside a container — the probe: the binary imported as the image
// hpr-probe:<hash>, or bind-mounted into the user's image — under the plan
// `hpr run` would use, and judges what the probe did from the host, with
// stat. The probe does every in-container action in one process and prints a
// JSON report on stdout; Probe is that in-container side. The host is the
// engine's: for an engine on another machine (Options.Remote, over ssh) the
// test directory is made, judged and removed on that machine, and the host
// user is the owner of the directory there.
//
// A run costs two containers per engine, run concurrently: the probe under
// the plan for the image being checked, and the probe in an image whose USER
// is a uid other than the host user's. A third runs only when the test
// directory cannot be removed (a failed engine left files the host user does
// not own) to remove them as container root.
//
// Report holds the reports of many engines and writes them as a table,
// JSON or JUnit XML.
package conformance
