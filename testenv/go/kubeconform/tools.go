//go:build tools

// Package tools pins kubeconform, the manifest validator `cargo bench --bench lint` times tacos lint against.
package tools

import _ "github.com/yannh/kubeconform/cmd/kubeconform"
