"""Keep the promises a team makes to its clients."""
