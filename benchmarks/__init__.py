"""Benchmark scripts: they print numbers and write them to docs/benchmarks.md."""
