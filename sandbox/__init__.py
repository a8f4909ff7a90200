"""A local VibeCode platform, built from the reference and the contract; imports neither tenants nor
botcore."""
