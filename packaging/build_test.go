package packaging

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Versions of the two builds the tests install: oldVersion is the agent as
// it was at oldCommit (state schema 2, before the history redesign),
// newVersion this tree.
const (
	newVersion = "1.1.0"
	oldVersion = "1.0.0"
	oldCommit  = "2d8b24e" // the last landing with state schema 2
)

var builds struct {
	dir string

	newOnce sync.Once
	newDeb  string
	newRPM  string
	newErr  error

	oldOnce sync.Once
	oldDeb  string
	oldErr  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sharkfin-packaging-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	builds.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildPackages runs build.sh (what make package runs) with the given
// version and binary ("" builds this tree) into out.
func buildPackages(root, version, bin, out string) error {
	cmd := exec.Command(filepath.Join(root, "packaging", "build.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SHARKFIN_VERSION="+version, "OUT="+out, "BIN="+bin)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("packaging/build.sh (version %s): %w\n%s", version, err, b)
	}
	return nil
}

// newPackages builds this tree's .deb and .rpm once per run.
func newPackages(t testing.TB) (deb, rpm string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds packages: skipped with -short")
	}
	builds.newOnce.Do(func() {
		out := filepath.Join(builds.dir, "new")
		if builds.newErr = buildPackages(repoRoot(t), newVersion, "", out); builds.newErr != nil {
			return
		}
		builds.newDeb = filepath.Join(out, "sharkfin_"+newVersion+"-1_amd64.deb")
		builds.newRPM = filepath.Join(out, "sharkfin-"+newVersion+"-1.x86_64.rpm")
	})
	if builds.newErr != nil {
		t.Fatal(builds.newErr)
	}
	return builds.newDeb, builds.newRPM
}

// oldPackage builds the agent of oldCommit (from git archive, so the work
// tree is untouched) and packages it with this tree's packaging, as the
// previous release was.
func oldPackage(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	if err := exec.Command("git", "-C", root, "cat-file", "-e", oldCommit+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s (the previous build, state schema 2) is not in this clone (shallow?): %v", oldCommit, err)
	}
	builds.oldOnce.Do(func() {
		src := filepath.Join(builds.dir, "old-src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			builds.oldErr = err
			return
		}
		archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, oldCommit, src)
		if b, err := archive.CombinedOutput(); err != nil {
			builds.oldErr = fmt.Errorf("git archive %s: %w\n%s", oldCommit, err, b)
			return
		}
		bin := filepath.Join(builds.dir, "sharkfin-old")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+oldVersion, "-o", bin, "./cmd/sharkfin")
		build.Dir = src
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
		if b, err := build.CombinedOutput(); err != nil {
			builds.oldErr = fmt.Errorf("build sharkfin at %s: %w\n%s", oldCommit, err, b)
			return
		}
		out := filepath.Join(builds.dir, "old")
		if builds.oldErr = buildPackages(root, oldVersion, bin, out); builds.oldErr != nil {
			return
		}
		builds.oldDeb = filepath.Join(out, "sharkfin_"+oldVersion+"-1_amd64.deb")
	})
	if builds.oldErr != nil {
		t.Fatal(builds.oldErr)
	}
	return builds.oldDeb
}

func need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/run installs it)", tool)
		}
	}
}

func output(t testing.TB, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return string(b)
}

// TestDeb_Contents inspects the .deb as dpkg sees it: the files where
// Debian wants them, the configuration as conffiles, the scripts, the
// dependency on adduser.
func TestDeb_Contents(t *testing.T) {
	need(t, "dpkg-deb")
	deb, _ := newPackages(t)
	list := output(t, "dpkg-deb", "-c", deb)
	for _, want := range []string{
		"./usr/bin/sharkfin", "./lib/systemd/system/sharkfin.service",
		"./etc/sharkfin/sharkfin.yaml", "./etc/sharkfin/models/web.json", "./etc/default/sharkfin",
		"./usr/share/man/man1/sharkfin.1.gz", "./usr/share/man/man1/sharkfin-run.1.gz",
		"./usr/share/bash-completion/completions/sharkfin", "./usr/share/zsh/vendor-completions/_sharkfin",
		"./usr/share/doc/sharkfin/copyright", "./usr/share/doc/sharkfin/changelog.Debian.gz",
		"./usr/share/doc/sharkfin/examples/sharkfin.yaml", "./usr/share/doc/sharkfin/operating.md",
	} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("dpkg-deb -c lacks %s", want)
		}
	}
	if strings.Contains(list, "./var/lib/sharkfin") {
		t.Errorf("the state directory is made by postinst (owned by the user), not shipped:\n%s", list)
	}
	info := output(t, "dpkg-deb", "-I", deb)
	for _, want := range []string{"Package: sharkfin", "Version: " + newVersion + "-1", "Depends: adduser", "postinst", "prerm", "postrm"} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	ctl := t.TempDir()
	output(t, "dpkg-deb", "-e", deb, ctl)
	cf, err := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/etc/sharkfin/sharkfin.yaml", "/etc/sharkfin/models/web.json", "/etc/sharkfin/models/dns.json", "/etc/default/sharkfin"} {
		if !strings.Contains(string(cf), want+"\n") {
			t.Errorf("conffiles lacks %s:\n%s", want, cf)
		}
	}
}

// TestDeb_Lintian: no errors (the warnings left are listed in the README).
func TestDeb_Lintian(t *testing.T) {
	need(t, "lintian")
	deb, _ := newPackages(t)
	out, err := exec.Command("lintian", "--tag-display-limit", "0", deb).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && (!errors.As(err, &ee) || ee.ExitCode() > 1) { // 1: tags found; more: lintian failed
		t.Fatalf("lintian: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "E: ") {
			t.Errorf("lintian: %s", strings.TrimSpace(line))
		}
	}
	t.Logf("lintian:\n%s", out)
}

// TestRPM_Contents inspects the .rpm with rpm itself: files, config files
// kept on upgrade, the scriptlets that make the user and enable the unit.
func TestRPM_Contents(t *testing.T) {
	need(t, "rpm")
	_, rpm := newPackages(t)
	list := output(t, "rpm", "-qpl", rpm)
	for _, want := range []string{"/usr/bin/sharkfin", "/usr/lib/systemd/system/sharkfin.service",
		"/etc/sharkfin/sharkfin.yaml", "/usr/share/man/man1/sharkfin.1.gz", "/usr/share/zsh/site-functions/_sharkfin"} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("rpm -qpl lacks %s", want)
		}
	}
	if cfg := output(t, "rpm", "-qpc", rpm); !strings.Contains(cfg, "/etc/sharkfin/sharkfin.yaml\n") {
		t.Errorf("rpm -qpc: the config is not a config file:\n%s", cfg)
	}
	scripts := output(t, "rpm", "-qp", "--scripts", rpm)
	for _, want := range []string{"preinstall scriptlet", "useradd -r", "postinstall scriptlet", "systemctl enable sharkfin.service",
		"preuninstall scriptlet", "disable --now", "postuninstall scriptlet", "try-restart"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm -qp --scripts lacks %q", want)
		}
	}
	// The rpm's own config (RHEL paths) passes check, with /etc/sharkfin
	// moved to a scratch directory holding the packaged models.
	need(t, "rpm2cpio", "cpio")
	etc := t.TempDir()
	extract := exec.Command("sh", "-c", `rpm2cpio "$1" | (cd "$2" && cpio -id --quiet ./etc/sharkfin/sharkfin.yaml ./etc/sharkfin/models/web.json ./etc/sharkfin/models/dns.json ./usr/bin/sharkfin)`, "sh", rpm, etc)
	if b, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("rpm2cpio: %v\n%s", err, b)
	}
	cfgPath := filepath.Join(etc, "etc", "sharkfin", "sharkfin.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "/var/log/httpd/access_log*") {
		t.Errorf("the rpm's config does not follow RHEL's httpd log:\n%s", cfg)
	}
	cfg = []byte(strings.ReplaceAll(string(cfg), "/etc/sharkfin/", filepath.Join(etc, "etc", "sharkfin")+"/"))
	cfg = []byte(strings.ReplaceAll(string(cfg), "/var/lib/sharkfin/", etc+"/"))
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(etc, "usr", "bin", "sharkfin"), "check", "-c", cfgPath).CombinedOutput(); err != nil {
		t.Errorf("sharkfin check on the rpm's config: %v\n%s", err, out)
	}
	if info := output(t, "rpm", "-qpi", rpm); !strings.Contains(info, "Version     : "+newVersion) {
		t.Errorf("rpm -qpi: version is not %s:\n%s", newVersion, info)
	}
}

// TestRPM_Lint: rpmlint reports no errors but the two this build cannot
// avoid: a static binary (Go, on purpose) and no GPG signature (packages
// are signed where they are published, with the publisher's key).
func TestRPM_Lint(t *testing.T) {
	need(t, "rpmlint")
	_, rpm := newPackages(t)
	out, _ := exec.Command("rpmlint", rpm).CombinedOutput()
	if !strings.Contains(string(out), "1 packages and 0 specfiles checked") {
		t.Fatalf("rpmlint did not check the package:\n%s", out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, ": E: ") && !strings.Contains(line, "E: statically-linked-binary") && !strings.Contains(line, "E: no-signature") {
			t.Errorf("rpmlint: %s", strings.TrimSpace(line))
		}
	}
	if docs := output(t, "rpm", "-qpd", rpm); !strings.Contains(docs, "/usr/share/man/man1/sharkfin-run.1.gz\n") || !strings.Contains(docs, "/usr/share/doc/sharkfin/operating.md\n") {
		t.Errorf("rpm -qpd: man pages and guide are not %%doc:\n%s", docs)
	}
	t.Logf("rpmlint:\n%s", out)
}

// TestVersion_SortsInDpkgAndRpm numbers the commits of a scratch repository
// with version.sh, tags and uncommitted changes included, and checks that
// each later state sorts higher for dpkg and for rpm.
func TestVersion_SortsInDpkgAndRpm(t *testing.T) {
	need(t, "git", "dpkg", "rpm")
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging", "version.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "packaging"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "packaging", "version.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(dir, "packaging", "version.sh")).Output()
		if err != nil {
			t.Fatalf("version.sh: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	touch := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	touch("1")
	git("add", "-A")
	git("commit", "-qm", "1")
	var seen []string
	seen = append(seen, version()) // 0.0.0+1.gSHA
	touch("2")
	seen = append(seen, version()) // dirty
	git("commit", "-qam", "2")
	seen = append(seen, version())
	git("tag", "v1.2.0-rc1")
	seen = append(seen, version()) // 1.2.0~rc1
	touch("3")
	git("commit", "-qam", "3")
	seen = append(seen, version())
	git("tag", "v1.2.0")
	seen = append(seen, version()) // 1.2.0
	touch("4")
	seen = append(seen, version()) // 1.2.0+0.gSHA.dirty
	git("commit", "-qam", "4")
	seen = append(seen, version()) // 1.2.0+1.gSHA
	for i := 1; i < len(seen); i++ {
		a, b := seen[i-1], seen[i]
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s does not sort before %s", a, b)
		}
		out, err := exec.Command("rpm", "--eval", fmt.Sprintf("%%{lua: print(rpm.vercmp('%s', '%s'))}", a, b)).Output()
		if err != nil || strings.TrimSpace(string(out)) != "-1" {
			t.Errorf("rpm: %s does not sort before %s (%s, %v)", a, b, out, err)
		}
	}
	if seen[3] != "1.2.0~rc1" || seen[5] != "1.2.0" {
		t.Errorf("tag versions %q and %q, want 1.2.0~rc1 and 1.2.0", seen[3], seen[5])
	}
	t.Logf("versions: %v", seen)
}
