"""Recorded runs: the cassette format, scrubbing, recording, matching, replaying and linting."""
