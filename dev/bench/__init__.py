"""Benchmarks (`make bench`): results as JSON and Markdown under dev/bench/results/."""
