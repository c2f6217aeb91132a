// Package domain handles destination names as the per-domain report needs
// them: Normalize puts a host in the form lists and counters use (ASCII
// lowercase, no trailing dot, IPv6 canonical) without allocating, and
// Suffixes finds a name's registrable domain (eTLD+1) with the public
// suffix list of golang.org/x/net/publicsuffix, the unit of categories and
// novelty.
package domain
