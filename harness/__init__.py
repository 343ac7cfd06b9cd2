"""Harnesses that tests/ and bench/ share: suite runs against mutants and variants, and servers.

Not part of the product (the wheel ships conformance/ and reference_impl/ only): nothing here
is reachable from the command line, which is what keeps faults and variants out of reach.
"""
