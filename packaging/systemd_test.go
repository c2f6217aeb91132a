package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bootedRoot is a scratch root (an overlay of this machine's /) booted
// with systemd as its init by systemd-nspawn, so the package's unit and
// maintainer scripts meet a real service manager. It has a network of its
// own (loopback only): the packaged agent's metrics port cannot meet
// another's.
type bootedRoot struct {
	t    testing.TB
	cmd  *exec.Cmd
	pid  int // the container's systemd, in this machine's pid namespace
	done chan struct{}
	log  string // nspawn's output (a file: read while it is written)
}

// bootRoot boots a root holding files (path inside -> content) and waits
// until its systemd has finished starting up. It skips where that cannot
// be done here (not root, no systemd-nspawn, a kernel that refuses).
func bootRoot(t testing.TB, files map[string][]byte) *bootedRoot {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("boots an overlay of / with systemd-nspawn: needs root")
	}
	need(t, "unshare", "systemd-nspawn", "nsenter")
	dir := t.TempDir()
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, b := range files { // written before the overlay is mounted
		full := filepath.Join(upper, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `set -e
mount -t overlay overlay -o "lowerdir=/,upperdir=$1,workdir=$2" "$3"
exec systemd-nspawn -q -D "$3" --register=no --keep-unit --private-network --boot --console=pipe -- systemd.unit=basic.target`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", upper, work, merged)
	cmd.Stdin = nil
	logPath := filepath.Join(dir, "nspawn.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// If this test binary dies (a timeout, a kill), nspawn gets SIGTERM
	// and powers the container off; a SIGKILL would orphan it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &bootedRoot{t: t, cmd: cmd, done: make(chan struct{}), log: logPath}
	out := r // its String reads the log
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		// The container's init first: its pid namespace (every process
		// of the container) dies with it, and nspawn then exits. Killing
		// only nspawn would leave the container running, orphaned.
		if r.pid != 0 {
			_ = syscall.Kill(r.pid, syscall.SIGKILL)
		}
		_ = cmd.Process.Kill()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Errorf("systemd-nspawn still running 20 s after SIGKILL")
		}
	})
	// nspawn's child is the container's init (systemd).
	deadline := time.Now().Add(30 * time.Second)
	for r.pid == 0 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
		if f := strings.Fields(string(b)); len(f) > 0 {
			// nspawn forks before the child execs init: wait for systemd.
			if comm, _ := os.ReadFile("/proc/" + f[0] + "/comm"); strings.TrimSpace(string(comm)) == "systemd" {
				r.pid, _ = strconv.Atoi(f[0])
				break
			}
		}
		select {
		case <-r.done:
			t.Skipf("systemd-nspawn cannot boot a container here:\n%s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Skipf("systemd-nspawn started no init in 30 s:\n%s", out)
		}
	}
	// Booted to basic.target: the services this machine happens to have
	// (a database, say) stay down. is-system-running --wait returns once
	// start-up is over (running, or degraded: units that cannot run in a
	// container); it fails until systemd listens on its socket.
	var state string
	for {
		wait := exec.Command("timeout", "60", "nsenter", "-t", strconv.Itoa(r.pid), "-a", "systemctl", "is-system-running", "--wait")
		b, _ := wait.CombinedOutput()
		if state = strings.TrimSpace(string(b)); state == "running" || state == "degraded" {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Skipf("the container's systemd did not finish starting up (%q):\n%s", state, out)
		}
		select {
		case <-r.done:
			t.Skipf("the container stopped while booting:\n%s", out)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return r
}

// sh runs a shell command inside and returns its output; it fails the
// test unless the command exits 0.
func (r *bootedRoot) sh(script string) string {
	r.t.Helper()
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(r.pid), "-a", "sh", "-c", script).CombinedOutput()
	if err != nil {
		journal, _ := exec.Command("nsenter", "-t", strconv.Itoa(r.pid), "-a", "journalctl", "-u", "sharkfin", "--no-pager", "-n", "30").CombinedOutput()
		r.t.Fatalf("in the container: %s: %v\n%s\njournal of sharkfin.service:\n%s", script, err, out, journal)
	}
	return strings.TrimSpace(string(out))
}

// try is sh that returns the output whatever the exit status.
func (r *bootedRoot) try(script string) string {
	out, _ := exec.Command("nsenter", "-t", strconv.Itoa(r.pid), "-a", "sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// String is what nspawn printed so far.
func (r *bootedRoot) String() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

func (r *bootedRoot) unit(prop string) string {
	r.t.Helper()
	return r.sh("systemctl show -P " + prop + " sharkfin.service")
}

// bootWithPackages boots a root with the packages in /srv/pkgs, as a
// server would be before they are installed.
func bootWithPackages(t testing.TB, pkgs ...string) *bootedRoot {
	t.Helper()
	files := map[string][]byte{}
	for _, p := range pkgs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files["/srv/pkgs/"+filepath.Base(p)] = b
	}
	r := bootRoot(t, files)
	if r.try("getent passwd sharkfin") != "" {
		t.Skip("this machine has a sharkfin user already")
	}
	// A container image's policy-rc.d (exit 101: start nothing), as this
	// machine has, would veto every start and restart the scripts ask
	// for; a server has none.
	r.sh("rm -f /usr/sbin/policy-rc.d")
	return r
}

// TestDeb_UnderSystemd installs the package on a booted system and checks
// what the scripts and the unit do with a real service manager: enabled
// and not started on first install; a start that reaches READY=1 through
// the hardened unit; WATCHDOG=1 keeping a 3 s watchdog satisfied; reload by
// SIGHUP; an upgrade restarting a running agent and leaving a stopped one
// stopped; removal stopping it; purge deleting state and user.
func TestDeb_UnderSystemd(t *testing.T) {
	needRoot(t, "systemd-nspawn", "nsenter", "unshare")
	deb, _ := newPackages(t)
	deb2 := nextPackage(t)
	r := bootWithPackages(t, deb, deb2)
	r.sh("dpkg -i /srv/pkgs/" + filepath.Base(deb))
	if s := r.try("systemctl is-enabled sharkfin"); s != "enabled" {
		t.Errorf("after a first install: is-enabled %q, want enabled", s)
	}
	if s := r.try("systemctl is-active sharkfin"); s != "inactive" {
		t.Errorf("after a first install: is-active %q, want inactive (enable, do not start)", s)
	}

	// A 3 s watchdog: an agent that did not ping would be killed and
	// restarted within 3 s. The packaged configuration as installed (no
	// Fluentd here: events wait in the outbox, the agent runs on).
	r.sh(`mkdir -p /etc/systemd/system/sharkfin.service.d && printf '[Service]\nWatchdogSec=3s\n' > /etc/systemd/system/sharkfin.service.d/watchdog.conf && systemctl daemon-reload`)
	r.sh("systemctl start sharkfin") // Type=notify: returns once READY=1 came
	pid := r.unit("MainPID")
	if pid == "0" || r.try("systemctl is-active sharkfin") != "active" {
		t.Fatalf("not running after start: %s", r.try("systemctl status sharkfin --no-pager; journalctl -u sharkfin --no-pager | tail -20"))
	}
	// Three watchdog periods: still the same process, never restarted.
	deadline := time.Now().Add(9 * time.Second)
	for time.Now().Before(deadline) {
		if p := r.unit("MainPID"); p != pid {
			t.Fatalf("main pid changed from %s to %s within 9 s of a 3 s watchdog: %s", pid, p,
				r.try("journalctl -u sharkfin --no-pager | tail -20"))
		}
		time.Sleep(500 * time.Millisecond) // sampling a duration, not synchronising
	}
	if n := r.unit("NRestarts"); n != "0" {
		t.Errorf("NRestarts %s under a 3 s watchdog", n)
	}
	r.sh("systemctl reload sharkfin")
	if p := r.unit("MainPID"); p != pid || r.try("systemctl is-active sharkfin") != "active" {
		t.Errorf("reload replaced or stopped the agent: pid %s -> %s", pid, p)
	}

	// Upgrade while running: restarted with the new binary.
	r.sh("dpkg -i /srv/pkgs/" + filepath.Base(deb2))
	newPid := r.unit("MainPID")
	if newPid == pid || newPid == "0" || r.try("systemctl is-active sharkfin") != "active" {
		t.Errorf("upgrade of a running agent: pid %s -> %s, %s", pid, newPid, r.try("systemctl is-active sharkfin"))
	}
	if v := r.try("readlink /proc/" + newPid + "/exe; /usr/bin/sharkfin version"); !strings.Contains(v, nextVersion) {
		t.Errorf("the agent after the upgrade is not %s: %s", nextVersion, v)
	}
	// Reinstall while stopped: stays stopped.
	r.sh("systemctl stop sharkfin")
	r.sh("dpkg -i /srv/pkgs/" + filepath.Base(deb2))
	if s := r.try("systemctl is-active sharkfin"); s != "inactive" {
		t.Errorf("an upgrade started a stopped agent: %s", s)
	}
	// Removal stops it; the state stays until purge.
	r.sh("systemctl start sharkfin")
	r.sh("dpkg -r sharkfin")
	if s := r.try("systemctl is-active sharkfin"); s == "active" {
		t.Errorf("dpkg -r left the agent running")
	}
	if r.try("test -f /var/lib/sharkfin/state.db && echo yes") != "yes" {
		t.Error("dpkg -r removed the state")
	}
	r.sh("dpkg -P sharkfin")
	if r.try("test -e /var/lib/sharkfin && echo yes; getent passwd sharkfin") != "" {
		t.Error("dpkg -P left the state or the user")
	}
}

const nextVersion = "1.1.1"

// nextPackage is this tree packaged as nextVersion, to upgrade to.
func nextPackage(t testing.TB) string {
	t.Helper()
	out := filepath.Join(builds.dir, "next")
	deb := filepath.Join(out, "sharkfin_"+nextVersion+"-1_amd64.deb")
	if _, err := os.Stat(deb); err == nil {
		return deb
	}
	if err := buildPackages(repoRoot(t), nextVersion, "", out); err != nil {
		t.Fatal(err)
	}
	return deb
}

// TestDeb_RefusedDowngradeUnderSystemd downgrades a node whose state the
// new agent has already raised to schema 3, to the previous build (schema
// 2), under systemd: the old agent refuses the state file at every start,
// saying why in the journal, and the unit's start limit stops the retries
// instead of a restart every RestartSec forever. The state file is left as
// it was.
func TestDeb_RefusedDowngradeUnderSystemd(t *testing.T) {
	needRoot(t, "systemd-nspawn", "nsenter", "unshare")
	deb, _ := newPackages(t)
	old := oldPackage(t)
	r := bootWithPackages(t, deb, old)
	// The packaged config's logs exist, so the old build's check (which
	// failed on warnings) passes and the agent itself runs.
	r.sh("mkdir -p /var/log/apache2 /var/log/nginx && touch /var/log/apache2/access.log /var/log/nginx/access.log")
	r.sh("dpkg -i /srv/pkgs/" + filepath.Base(deb))
	r.sh("systemctl start sharkfin && systemctl stop sharkfin")
	sum := r.sh("sha256sum /var/lib/sharkfin/state.db")

	r.sh("dpkg -i /srv/pkgs/" + filepath.Base(old)) // a downgrade
	// Restart after 3 s instead of 5, to see the start limit sooner. Still
	// slower than systemd's default limit (5 starts in 10 s) can catch:
	// only the unit's own StartLimitIntervalSec stops it.
	r.sh(`mkdir -p /etc/systemd/system/sharkfin.service.d && printf '[Service]\nRestartSec=3s\n' > /etc/systemd/system/sharkfin.service.d/restart.conf && systemctl daemon-reload`)
	_ = r.try("systemctl start sharkfin")
	// Failed, and still failed with the same restart count more than a
	// RestartSec later: no restart is scheduled any more.
	deadline := time.Now().Add(60 * time.Second)
	for {
		state, n := r.unit("ActiveState"), r.unit("NRestarts")
		if state == "failed" && n != "0" {
			time.Sleep(4 * time.Second) // a duration measured, not a synchronisation
			if r.unit("ActiveState") == "failed" && r.unit("NRestarts") == n {
				if k, _ := strconv.Atoi(n); k > 5 {
					t.Errorf("%d restarts, want at most the burst of 5", k)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused agent is still restarted after 60 s: %s, NRestarts %s\n%s", state, n,
				r.try("journalctl -u sharkfin --no-pager | tail -20"))
		}
		time.Sleep(200 * time.Millisecond) // polling systemd's state
	}
	journal := r.try("journalctl -u sharkfin --no-pager")
	if !strings.Contains(journal, "unsupported state schema: file has version 3, this sharkfin reads up to 2") {
		t.Errorf("the journal does not say why:\n%s", journal)
	}
	if got := r.sh("sha256sum /var/lib/sharkfin/state.db"); got != sum {
		t.Errorf("the refused downgrade changed the state file")
	}
}
