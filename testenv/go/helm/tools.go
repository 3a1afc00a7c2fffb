//go:build tools

// Package tools pins the helm command tacos uses as a chart renderer.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
