"""The skills that ship with the product."""
