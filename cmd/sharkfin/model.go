package main

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/socx/sharkfin/detect"
)

func newModelCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Inspect, sign and verify model files"}
	var keyOut, signKey, verifyKey string
	keygen := &cobra.Command{
		Use: "keygen --out PREFIX", Short: "Write PREFIX.key (0600) and PREFIX.pub, an ed25519 key pair",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if keyOut == "" {
				return usagef("--out PREFIX is required")
			}
			if err := detect.GenerateKey(keyOut); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s.key and %s.pub\n", keyOut, keyOut)
			return nil
		},
	}
	keygen.Flags().StringVar(&keyOut, "out", "", "path prefix of the key files")
	sign := &cobra.Command{
		Use: "sign --key PREFIX.key MODEL", Short: "Write MODEL.sig", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if signKey == "" {
				return usagef("--key is required")
			}
			if _, err := detect.LoadModel(args[0]); err != nil {
				return fmt.Errorf("refusing to sign an invalid model: %w", err)
			}
			priv, err := detect.LoadPrivateKey(signKey)
			if err != nil {
				return err
			}
			if err := detect.SignModel(priv, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "wrote %s.sig\n", args[0])
			return nil
		},
	}
	sign.Flags().StringVar(&signKey, "key", "", "private key (PREFIX.key)")
	verify := &cobra.Command{
		Use: "verify --key PREFIX.pub MODEL", Short: "Exit 0 if MODEL.sig is valid, 1 otherwise", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if verifyKey == "" {
				return usagef("--key is required")
			}
			pub, err := detect.LoadPublicKey(verifyKey)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("model %s: %w", args[0], err)
			}
			if err := detect.VerifyModel(data, args[0], []ed25519.PublicKey{pub}); err != nil {
				return err
			}
			if _, err := detect.LoadModel(args[0]); err != nil {
				return fmt.Errorf("signature valid, but %w", err)
			}
			fmt.Fprintf(e.stdout, "%s: signature valid (%s)\n", args[0], verifyKey)
			return nil
		},
	}
	verify.Flags().StringVar(&verifyKey, "key", "", "public key (PREFIX.pub)")
	inspect := &cobra.Command{
		Use: "inspect MODEL", Short: "Print a model readably", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			m, err := detect.LoadModel(args[0])
			if err != nil {
				return err
			}
			printModel(e.stdout, m)
			return nil
		},
	}
	cmd.AddCommand(keygen, sign, verify, inspect)
	return cmd
}

func printModel(w io.Writer, m *detect.Model) {
	fmt.Fprintf(w, "model     %s\nformat    %s\nkind      %s\nwindow    %s\n", m.ID(), m.Format, m.Kind, m.Window)
	t := m.Training
	fmt.Fprintf(w, "trained   %s from %d rows (%s), k=%d, kept %d clusters, quantile %.3g, inertia %.6g, seed %d\n",
		t.Created.Format("2006-01-02 15:04:05Z07:00"), t.Rows, strings.Join(t.Sources, ", "), t.K, len(m.Centroids), t.Quantile, t.Inertia, t.Seed)
	if len(t.Dropped) > 0 {
		n := 0
		for _, d := range t.Dropped {
			n += d.Rows
		}
		fmt.Fprintf(w, "dropped   %d small clusters holding %d rows (min share %.3g)\n", len(t.Dropped), n, t.MinShare)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "feature\tmean\tstd\t")
	for c := range m.Centroids {
		fmt.Fprintf(tw, "c%d\t", c)
	}
	fmt.Fprintln(tw)
	for i, f := range m.Features {
		fmt.Fprintf(tw, "%s\t%.4g\t%.4g\t", f, m.Transform.Mean[i], m.Transform.Std[i])
		for _, c := range m.Centroids {
			fmt.Fprintf(tw, "%.3f\t", c[i])
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprint(tw, "threshold\t\t\t")
	for _, th := range m.Thresholds {
		fmt.Fprintf(tw, "%.3f\t", th)
	}
	fmt.Fprintln(tw)
	if len(t.Sizes) == len(m.Centroids) {
		fmt.Fprint(tw, "rows\t\t\t")
		for _, s := range t.Sizes {
			fmt.Fprintf(tw, "%d\t", s)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nlog1p=%v; centroids and thresholds are in transformed space (z-scores of log1p counts); a window scores distance/threshold, > 1 is anomalous.\n", m.Transform.Log1p)
}
