"""The DPO's dashboard: the queue, each request's page and the staff-side operations on it."""

# The tasks, audit, map and figures pages register their routes on the blueprint when imported.
from dsr.dashboard import audit_views, figures, map_views, tasks  # noqa: F401, E402
