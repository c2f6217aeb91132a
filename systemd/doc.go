// Package systemd holds the agent's unit file (sharkfin.service) and the
// test that checks it with systemd-analyze. It has no Go code of its own.
package systemd
