// Package config loads and checks the agent's YAML configuration
// (/etc/sharkfin/sharkfin.yaml; examples/sharkfin.yaml documents every key).
//
// Parse decodes strictly: an unknown or repeated key, a value of the wrong
// shape and an out-of-range value are all errors, each a *Problem naming the
// file, the line, the key path (such as inputs[1].start_at) and the fix.
// Decoding happens in three steps:
//
//  1. the YAML tree is walked against the Go types, which reports every
//     unknown key, repeated key, wrong shape and refused scalar at once;
//  2. the file is decoded with yaml.Decoder.KnownFields(true) over a Config
//     that already holds its defaults, so a key the file sets, even to zero
//     (lateness: 0s, metrics.listen: ""), keeps the value it was given;
//  3. Validate checks each section and the rules between sections.
//
// Relative file names in the configuration (input globs, state.path, model,
// key, category and CA files) are taken relative to the directory of the
// configuration file, as Prometheus does.
//
// Check goes further for `sharkfin check`: it looks at the file system
// (models, keys and category lists readable, state directory writable,
// globs matching readable files and no file claimed by two inputs) and
// returns every problem it finds, not just the first.
//
// Each section has SetDefaults, which fills zero fields, and Validate, whose
// errors carry key paths relative to the section. Values with a syntax of
// their own (Duration, ByteSize and the enumerations) check it in
// UnmarshalText, so no decoder can produce an invalid one.
package config
