//go:build !unix

package main

// mapFile is not available here: files are read as streams.
func mapFile(string) ([]byte, func(), bool) { return nil, nil, false }
