"""Recording hooks, ring buffers and meters (firing rate, sparsity, SOPs, energy). No Qt."""
