"""Performance benchmarks: our code against the floor (the same work done with plain HTTP / the DB driver).

Run with ``make bench`` (or ``.venv/bin/python -m benchmarks.run``); see ``benchmarks/run.py``.
"""
