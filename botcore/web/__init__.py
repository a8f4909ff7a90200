"""Portal-facing pages and API of botcore: the skills a portal admin switches and configures."""
