"""VibeClient's methods, one mixin per section of the reference (bots, events, messages, chats, …)."""
