"""Contract tests: Schemathesis over `spec/openapi.yaml`, sent through the suite's own client."""
