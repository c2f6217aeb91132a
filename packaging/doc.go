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
// That needs root; elsewhere the install tests skip and say why. The
// chroot tests run no service manager; TestDeb_UnderSystemd boots such an
// overlay with systemd-nspawn (to basic.target) and checks what the
// scripts and the hardened unit do under a real systemd: enabled but not
// started, READY=1, the watchdog, reload, restart on upgrade, stop on
// removal. The rpm is installed and erased in a scratch root too, with
// Debian's rpm: its scriptlets run, though not on RHEL.
package packaging
