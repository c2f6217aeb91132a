// Package examples holds the annotated example configuration, embedded so
// that tests parse the very file that ships.
package examples

import _ "embed"

// SampleConfig is examples/sharkfin.yaml, which documents every key of the
// agent's configuration.
//
//go:embed sharkfin.yaml
var SampleConfig []byte
