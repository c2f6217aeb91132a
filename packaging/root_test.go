package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scratchRoot is an overlay of this machine's root file system: packages
// are installed into it for real (dpkg, adduser, maintainer scripts) and
// everything they change lands in upper, removed with the test.
type scratchRoot struct {
	t                   testing.TB
	upper, work, merged string
	binds               map[string]string // path inside -> host directory
}

// newScratchRoot skips unless this process may make one (root, unshare,
// overlayfs) and binds are host directories made visible inside.
func newScratchRoot(t testing.TB, binds map[string]string) *scratchRoot {
	t.Helper()
	needRoot(t, "unshare", "dpkg", "chroot")
	dir := t.TempDir()
	r := &scratchRoot{t: t, upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work"), merged: filepath.Join(dir, "merged"), binds: binds}
	for _, d := range []string{r.upper, r.work, r.merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := r.command("/bin/true").CombinedOutput(); err != nil {
		t.Skipf("cannot mount an overlay of / here (unshare -m, overlayfs): %v\n%s", err, out)
	}
	return r
}

// command returns args run inside the root: a private mount namespace
// mounts the overlay, /proc, /dev and the binds, then chroots; the process
// is the command itself (every step execs), so signals reach it.
func (r *scratchRoot) command(args ...string) *exec.Cmd {
	var script strings.Builder
	script.WriteString(`set -e
m=$MERGED
mount -t overlay overlay -o "lowerdir=/,upperdir=$UPPER,workdir=$WORK" "$m"
mount -t proc proc "$m/proc"
mount --rbind /dev "$m/dev"
mount -t tmpfs tmpfs "$m/run"
mount -t tmpfs tmpfs "$m/tmp"
`)
	env := append(os.Environ(), "MERGED="+r.merged, "UPPER="+r.upper, "WORK="+r.work)
	i := 0
	for inside, host := range r.binds {
		v := "BIND" + string(rune('A'+i))
		script.WriteString(`mkdir -p "$m` + inside + `"; mount --bind "$` + v + `" "$m` + inside + `"` + "\n")
		env = append(env, v+"="+host)
		i++
	}
	script.WriteString(`shift; exec chroot "$m" "$@"` + "\n")
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script.String(), "sh", "--"}, args...)...)
	cmd.Env = append(env, "DEBIAN_FRONTEND=noninteractive", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	return cmd
}

// run runs args inside and fails the test unless they exit 0.
func (r *scratchRoot) run(args ...string) string {
	r.t.Helper()
	out, err := r.command(args...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("in the scratch root: %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// path is where a file of the root is seen from the host once changed
// (the overlay's upper directory holds every file the root wrote).
func (r *scratchRoot) upperPath(p string) string { return filepath.Join(r.upper, p) }

// exists reports whether p exists inside the root.
func (r *scratchRoot) exists(p string) bool {
	r.t.Helper()
	err := r.command("test", "-e", p).Run()
	return err == nil
}

// read returns a file of the root.
func (r *scratchRoot) read(p string) string {
	r.t.Helper()
	return r.run("cat", p)
}

// TestDeb_InstallRemovePurge installs this tree's .deb into a scratch root
// as apt would on a fresh machine, runs the packaged binary against the
// packaged configuration, then removes (state and user kept) and purges
// (both gone).
func TestDeb_InstallRemovePurge(t *testing.T) {
	needRoot(t, "unshare", "dpkg", "chroot")
	deb, _ := newPackages(t)
	r := newScratchRoot(t, map[string]string{"/srv/pkgs": filepath.Dir(deb)})
	if r.exists("/etc/sharkfin") || r.run("sh", "-c", "getent passwd sharkfin || true") != "" {
		t.Skip("this machine already has sharkfin installed or a sharkfin user: a fresh install cannot be shown on it")
	}
	pkg := "/srv/pkgs/" + filepath.Base(deb)
	r.run("dpkg", "-i", pkg)

	if v := r.run("sharkfin", "version"); !strings.Contains(v, newVersion) {
		t.Errorf("packaged sharkfin version: %q, want %s", v, newVersion)
	}
	// The packaged config passes check as installed (its inputs whose
	// web server is not installed only warn).
	if out, err := r.command("sharkfin", "check", "-c", "/etc/sharkfin/sharkfin.yaml").CombinedOutput(); err != nil {
		t.Errorf("sharkfin check -c /etc/sharkfin/sharkfin.yaml on the packaged config: %v\n%s", err, out)
	}
	// The user: a system account, in adm and proxy (Debian has both).
	pw := strings.Split(strings.TrimSpace(r.run("getent", "passwd", "sharkfin")), ":")
	if len(pw) != 7 || pw[5] != "/var/lib/sharkfin" || !strings.HasSuffix(pw[6], "nologin") {
		t.Errorf("sharkfin user: %q", pw)
	}
	groups := " " + strings.TrimSpace(r.run("id", "-nG", "sharkfin")) + " "
	for _, g := range []string{"sharkfin", "adm", "proxy"} {
		if r.run("sh", "-c", "getent group "+g+" >/dev/null && echo yes || true") != "" && !strings.Contains(groups, " "+g+" ") {
			t.Errorf("sharkfin is not in group %s: %s", g, groups)
		}
	}
	if st := strings.TrimSpace(r.run("stat", "-c", "%U:%G %a", "/var/lib/sharkfin")); st != "sharkfin:sharkfin 700" {
		t.Errorf("/var/lib/sharkfin: %s, want sharkfin:sharkfin 700", st)
	}
	// Enabled (the wants link), not started (no systemd runs here; the
	// scripts start nothing on a first install either way).
	if link, err := os.Readlink(r.upperPath("/etc/systemd/system/multi-user.target.wants/sharkfin.service")); err != nil || link != "/lib/systemd/system/sharkfin.service" {
		t.Errorf("the unit is not enabled: link %q, %v", link, err)
	}
	if !r.exists("/usr/share/man/man1/sharkfin-run.1.gz") || !r.exists("/usr/share/bash-completion/completions/sharkfin") {
		t.Error("man pages or completions missing after install")
	}
	if out := r.run("man", "-P", "cat", "sharkfin-run"); !strings.Contains(out, "sharkfin run") {
		t.Errorf("man sharkfin-run:\n%s", out)
	}

	// Remove: binary gone; state, user and edited configuration kept.
	r.run("install", "-d", "-o", "sharkfin", "-g", "sharkfin", "/var/lib/sharkfin/marker")
	r.run("dpkg", "-r", "sharkfin")
	if r.exists("/usr/bin/sharkfin") {
		t.Error("dpkg -r left /usr/bin/sharkfin")
	}
	if !r.exists("/var/lib/sharkfin/marker") || !r.exists("/etc/sharkfin/sharkfin.yaml") {
		t.Error("dpkg -r removed the state or the configuration")
	}
	if r.command("getent", "passwd", "sharkfin").Run() != nil {
		t.Error("dpkg -r removed the user")
	}
	// Purge: state, configuration and user gone.
	r.run("dpkg", "-P", "sharkfin")
	for _, p := range []string{"/var/lib/sharkfin", "/etc/sharkfin/sharkfin.yaml", "/etc/systemd/system/multi-user.target.wants/sharkfin.service"} {
		if r.exists(p) {
			t.Errorf("dpkg -P left %s", p)
		}
	}
	if r.command("getent", "passwd", "sharkfin").Run() == nil {
		t.Error("dpkg -P kept the user")
	}
	if bytes.Contains([]byte(r.run("dpkg", "-l")), []byte(" sharkfin ")) {
		t.Error("dpkg -l still lists sharkfin after purge")
	}
}

// needRoot skips, before anything is built, unless this process can make
// scratch roots: root, and the tools.
func needRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("installs packages into an overlay of / in a private mount namespace: needs root")
	}
	need(t, tools...)
}

// TestRPM_InstallErase runs the rpm's scriptlets for real, with Debian's
// rpm in a scratch root (no RHEL here): %pre makes the user, %post its
// state directory and the enable link, %preun disables, and erase keeps
// the state and the user (rpm has no purge).
func TestRPM_InstallErase(t *testing.T) {
	needRoot(t, "unshare", "rpm", "chroot")
	_, rpmPath := newPackages(t)
	r := newScratchRoot(t, map[string]string{"/srv/pkgs": filepath.Dir(rpmPath)})
	if r.run("sh", "-c", "getent passwd sharkfin || true") != "" {
		t.Skip("this machine has a sharkfin user already")
	}
	pkg := "/srv/pkgs/" + filepath.Base(rpmPath)
	r.run("rpm", "-i", "--nodeps", pkg) // shadow-utils is Debian's passwd
	if v := r.run("rpm", "-q", "sharkfin"); !strings.Contains(v, "sharkfin-"+newVersion+"-1") {
		t.Errorf("rpm -q: %s", v)
	}
	if v := r.run("sharkfin", "version"); !strings.Contains(v, newVersion) {
		t.Errorf("sharkfin version: %s", v)
	}
	groups := " " + strings.TrimSpace(r.run("id", "-nG", "sharkfin")) + " "
	for _, g := range []string{"sharkfin", "adm", "proxy"} {
		if !strings.Contains(groups, " "+g+" ") {
			t.Errorf("sharkfin is not in group %s: %s", g, groups)
		}
	}
	if st := strings.TrimSpace(r.run("stat", "-c", "%U:%G %a", "/var/lib/sharkfin")); st != "sharkfin:sharkfin 700" {
		t.Errorf("/var/lib/sharkfin: %s, want sharkfin:sharkfin 700", st)
	}
	if _, err := os.Lstat(r.upperPath("/etc/systemd/system/multi-user.target.wants/sharkfin.service")); err != nil {
		t.Errorf("%%post did not enable the unit: %v", err)
	}
	r.run("install", "-d", "-o", "sharkfin", "-g", "sharkfin", "/var/lib/sharkfin/marker")
	r.run("rpm", "-e", "sharkfin")
	if r.exists("/usr/bin/sharkfin") || r.exists("/etc/sharkfin/models") {
		t.Error("rpm -e left the binary or the package's directories")
	}
	if _, err := os.Lstat(r.upperPath("/etc/systemd/system/multi-user.target.wants/sharkfin.service")); err == nil {
		t.Error("the erase scriptlet did not disable the unit")
	}
	if !r.exists("/var/lib/sharkfin/marker") || r.command("getent", "passwd", "sharkfin").Run() != nil {
		t.Error("rpm -e removed the state or the user")
	}
}
