"""Tests of the HTTP server: real uvicorn on 127.0.0.1 and httpx.ASGITransport."""
