"""The token lifecycle: its spec, the pure model, the invariants, and the generated state machine."""
