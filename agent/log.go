package agent

// Log attribute keys used across the agent.
const (
	logComponent = "component"
)
