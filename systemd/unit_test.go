package systemd

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestUnit_Verify runs `systemd-analyze verify` on the unit. On a build
// machine the binary is not installed and no systemd runs, so the messages
// about that are expected; anything else (a typo, a bad directive) fails.
func TestUnit_Verify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	out, _ := exec.Command("systemd-analyze", "verify", "sharkfin.service").CombinedOutput()
	expected := regexp.MustCompile(`(?i)(is not executable: No such file|Unit sysinit\.target not found|Failed to create .*/start|Failed to prepare filename|^\s*$)`)
	for _, line := range strings.Split(string(out), "\n") {
		if !expected.MatchString(line) {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// TestUnit_Security keeps the unit's exposure score (0 best, 10 worst)
// in the "OK" band.
func TestUnit_Security(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "sharkfin.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for sharkfin\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	if score > 2.5 {
		t.Errorf("exposure %.1f, want <= 2.5", score)
	}
	t.Logf("exposure level %.1f", score)
}

func TestUnit_Contract(t *testing.T) {
	data, err := os.ReadFile("sharkfin.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "ExecReload=kill -HUP $MAINPID", "ExecStart=/usr/bin/sharkfin run -c /etc/sharkfin/sharkfin.yaml", "StateDirectory=sharkfin", "WatchdogSec=30s"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}
