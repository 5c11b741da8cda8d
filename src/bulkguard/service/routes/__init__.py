"""The service's routers, one module per area; ``ROUTERS`` is what ``create_app`` includes."""

from bulkguard.service.routes import accounts, check, events, health

ROUTERS = (health.router, events.router, check.router, accounts.router)
