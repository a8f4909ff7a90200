"""botcore's write layer, one module per area: bots (provisioning), polling (the cycle), dispatch (routing)."""
