//go:build tools

// Package tools pins metrics-server (the resource metrics API the HPAs read) the simulated cluster runs out of cluster.
package tools

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
