"""botcore's engine, one module per job: the poll cycle, the executor, skill runs and schedules, bots."""
