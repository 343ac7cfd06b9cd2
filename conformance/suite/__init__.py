"""The conformance tests: one module per area, each test naming the requirement IDs it proves.

Run them with `spt-conformance run`, or inside any pytest session with
`pytest --pyargs conformance.suite --spt-target FILE`.
"""
