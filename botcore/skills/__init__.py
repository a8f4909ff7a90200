"""Skills: units of bot behaviour, declared as classes, enabled by dotted path in BOTCORE_SKILLS."""
