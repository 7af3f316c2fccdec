"""The benchmark: `python -m improve.bench` (see __main__.py for what it measures).

Outside the test suite on purpose: it builds a large database through the committed
migrations, serves it with the real `improve serve`, and loads it from another process.

Modules, each run in its own process so settings are read from the environment once:
- ``estate``: builds the database in bulk, then counts queries and times the reminder scan;
- ``bare``: a tiny Litestar app rendering a small Jinja template (what the framework costs);
- ``load``: the load generator (httpx, N concurrent connections for T seconds);
- ``report``: the table and the targets.
"""
