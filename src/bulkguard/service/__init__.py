"""``bulkguard serve``: the engine as a long-running HTTP service (FastAPI + uvicorn).

``adapter`` is the one place that touches the engine; ``runtime`` orders events, persists
them with their decisions before acknowledging, snapshots and resumes; ``app`` builds the
FastAPI application from routers (one module each), so that more routes can be added.
"""
