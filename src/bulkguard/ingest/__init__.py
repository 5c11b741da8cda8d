"""Ingest: file replay (HTTP and NATS later)."""
