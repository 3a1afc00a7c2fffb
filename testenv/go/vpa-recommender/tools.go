//go:build tools

// Package tools pins the Vertical Pod Autoscaler's recommender, run out of cluster so the services' VerticalPodAutoscalers (updateMode "Off") get real recommendations from metrics-server's data.
package tools

import _ "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender"
