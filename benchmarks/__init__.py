"""The platform's benchmarks: tools that measure it from outside, kept apart from the apps they measure."""
