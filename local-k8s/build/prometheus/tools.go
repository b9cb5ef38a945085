//go:build tools

// The command this module builds; the file only pins it in go.mod and go.sum.
package tools

import _ "github.com/prometheus/prometheus/cmd/prometheus"
