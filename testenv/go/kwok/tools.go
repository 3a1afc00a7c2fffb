//go:build tools

// Package tools pins the kwok command (fake nodes and kubelets) the simulated cluster runs.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
