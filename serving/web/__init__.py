"""ModelFactory's web page: one static page plus the read-only JSON it needs from the chain.

Mounted by `serving.service.build_service` next to the OpenAI-style routes, so the page talks
only to the service that served it (no CORS, no separate front-end server, no build step).
"""

from serving.web.routes import web_routes

__all__ = ["web_routes"]
