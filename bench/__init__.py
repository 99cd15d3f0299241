"""Load and latency benchmarks for MediaNest, each measured against a bare Starlette
baseline served the same way in the same run (`python -m bench`)."""
