"""The outcome of a run as a value, and its terminal, JSON, JUnit and HTML forms."""
