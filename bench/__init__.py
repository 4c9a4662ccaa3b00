"""The fan-out benchmark (`make bench`, `make bench-quick`): see BENCHMARKS.md at the root."""
