"""The vibeapp Django project: settings, URLs, and the command that starts the whole system."""
