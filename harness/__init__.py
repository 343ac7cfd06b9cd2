"""Harnesses shared by the tests and the benchmarks; not part of the shipped packages.

Suite runs against mutants and variants (suite, mutants, server) and the reliability harness
(reliability/). Nothing here is reachable from the product's command line, which is what keeps
faults and variants out of reach.
"""
