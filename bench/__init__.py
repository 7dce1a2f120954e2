"""Benchmarks (`make bench`): results as JSON and Markdown under bench/results/."""
