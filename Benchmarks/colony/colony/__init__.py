"""The colony benchmark (Benchmarks/colony/README.md): simulated colonies of
short-lived agents, the same worlds and policy for every memory, against a
real traild. `python3 -m colony` runs it; `python3 -m colony.report` makes
the report from the raw records."""
