"""SQL text helpers shared by the agent and the control plane: lexing, repair, fingerprints."""
