"""The DPO's dashboard: the queue, each request's page, calling dsr.requests for what staff do."""

# The tasks, audit, map and figures pages register their routes on the blueprint when imported.
from dsr.dashboard import audit_views, figures, map_views, tasks  # noqa: F401, E402
from dsr.dashboard import requests_register  # noqa: F401, E402
