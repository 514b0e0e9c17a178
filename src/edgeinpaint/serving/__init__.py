"""Serving: the HTTP API (FastAPI) with dynamic batching, and its browser page."""
