// Package packaging builds sharkfin's .deb and .rpm (build.sh, nfpm.yaml,
// the maintainer scripts under scripts/) and tests them as an operator
// meets them: built, inspected (dpkg-deb, rpm, lintian), installed into a
// scratch root, upgraded from an older build with state and outbox in
// place, downgraded across a state schema change, removed and purged.
//
// The scratch root is an overlay of this machine's own root file system,
// mounted in a private mount namespace (unshare -m), so dpkg, adduser and
// the maintainer scripts run for real without touching the machine: every
// change lands in the overlay's upper directory, deleted with the test.
// That needs root; elsewhere the install tests skip and say why. No
// systemd runs in the scratch root, so the scripts' systemctl branches
// (daemon-reload, try-restart on upgrade, stop on removal) are skipped
// there as they are in any chroot; enabling is checked by its symlink.
package packaging
