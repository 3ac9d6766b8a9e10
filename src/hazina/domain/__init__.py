"""Pure rules of the payments hub: standard library only, no I/O."""
