"""The DPO's dashboard: the queue, each request's page, calling dsr.requests for what staff do."""

# The tasks, audit, map, figures and retention pages register their routes when imported.
from dsr.dashboard import audit_views, figures, map_views, retention_views, tasks  # noqa: F401, E402
