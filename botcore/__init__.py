"""The bot engine: the VibeCode client, bots, the poll cycle, the pacer and skills."""
