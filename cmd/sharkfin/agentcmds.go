package main

import "github.com/spf13/cobra"

// addAgentCommands adds the commands of the long-running agent (run,
// check, state).
func addAgentCommands(root *cobra.Command, e *env) {}
