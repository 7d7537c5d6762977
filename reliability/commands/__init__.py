"""Command groups that live beside their feature; `reliability.cli` registers them all."""
