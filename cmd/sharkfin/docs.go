package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newDocsCmd writes what packages install beside the binary: a man page
// per command (section 1) and shell completions. Hidden: it serves
// `make package`, not users.
func newDocsCmd(e *env) *cobra.Command {
	var manDir, compDir string
	cmd := &cobra.Command{
		Use:    "docs --man DIR --completions DIR",
		Short:  "Write man pages and shell completions (for packaging)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := cmd.Root()
			root.DisableAutoGenTag = true // reproducible: no generation date
			if manDir != "" {
				if err := os.MkdirAll(manDir, 0o755); err != nil {
					return err
				}
				// Title left empty: each page gets its command's (SHARKFIN-RUN);
				// the date is SOURCE_DATE_EPOCH's when set (reproducible).
				hdr := &doc.GenManHeader{Section: "1", Source: "sharkfin " + versionString(), Manual: "sharkfin manual"}
				if err := doc.GenManTree(root, hdr, manDir); err != nil {
					return fmt.Errorf("man pages: %w", err)
				}
			}
			if compDir != "" {
				if err := os.MkdirAll(compDir, 0o755); err != nil {
					return err
				}
				for name, gen := range map[string]func(string) error{
					"sharkfin.bash": func(p string) error { return root.GenBashCompletionFileV2(p, true) },
					"_sharkfin":     root.GenZshCompletionFile,
					"sharkfin.fish": func(p string) error { return root.GenFishCompletionFile(p, true) },
				} {
					if err := gen(filepath.Join(compDir, name)); err != nil {
						return fmt.Errorf("completion %s: %w", name, err)
					}
				}
			}
			fmt.Fprintf(e.stdout, "wrote man pages to %q, completions to %q\n", manDir, compDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&manDir, "man", "", "directory for man pages")
	cmd.Flags().StringVar(&compDir, "completions", "", "directory for bash, zsh and fish completions")
	return cmd
}
