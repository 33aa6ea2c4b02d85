package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pkg/profile"
)

// TestProfilesIgnored: every file -profile writes (pkg/profile, in the
// current directory: the module root under make run) is ignored by git.
func TestProfilesIgnored(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed to ask what the repository ignores: %v", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	for mode, start := range profileModes {
		dir := t.TempDir()
		profile.Start(start, profile.ProfilePath(dir), profile.Quiet, profile.NoShutdownHook).Stop()
		files, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Errorf("-profile %s wrote nothing", mode)
		}
		for _, f := range files {
			cmd := exec.Command(gitBin, "check-ignore", "-q", f.Name())
			cmd.Dir = root
			if err := cmd.Run(); err != nil {
				t.Errorf("-profile %s writes %s, which .gitignore does not ignore (git check-ignore: %v)", mode, f.Name(), err)
			}
		}
	}
}
