// Command docker links only hpr's Docker backend: scripts/bench.sh builds it
// to show how much of hpr's binary size that backend brings.
package main

import _ "github.com/hostpersist/hpr/runtime/docker"

func main() {}
