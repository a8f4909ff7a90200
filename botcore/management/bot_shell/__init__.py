"""bot_shell: talk to the configured skills from a terminal, offline or against a sandbox (the command is
botcore/management/commands/bot_shell.py)."""
