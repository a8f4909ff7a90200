"""The 36 bot-platform endpoints of the reference, one module per reference section."""
