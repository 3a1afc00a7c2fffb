//go:build tools

// Package tools pins Argo CD's multicall binary (application-controller, repo-server, ...) for
// the test environment: the real controllers run out of cluster against the simulated cluster.
package tools

import _ "github.com/argoproj/argo-cd/v3/cmd"
