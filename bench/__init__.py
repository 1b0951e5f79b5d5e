"""Benchmarks and measuring tools, a package run from the repository root (`pytest bench/`,
`python -m bench.<room>.<module>`). Rooms:

    ops/         one benchmark per op, bench/ops/<op>.py beside idgi_fast/ops/<op>.py
    end_to_end/  explain and evaluate workloads against their model-only floors (floor.py)
    study/       the study's cost, memory, overhead, writing, paper-scale store, comparisons
    gpu/         the GPU check (python -m bench.gpu.check): one script for a lent card
    tools/       measuring tools: kernel resources, launch counts, request climbs, the photos

timing.py is the one timer; results.py appends every timing to data/results.csv, whose latest
rows open RESULTS.md (python -m bench.tools.current_numbers).
"""
