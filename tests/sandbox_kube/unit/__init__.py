"""Unit and property tests of the sandbox API server's pure building blocks."""
