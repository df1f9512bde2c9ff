"""Benchmarks: ``python -m benchmarks.<name>`` prints one JSON object per line and fails on a missed target."""
