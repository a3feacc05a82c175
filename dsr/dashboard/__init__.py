"""The DPO's dashboard: the queue, each request's page, calling dsr.requests for what staff do."""

# The tasks, audit, map, figures, retention and requests-register pages register their routes on
# the blueprint when imported.
from dsr.dashboard import (  # noqa: F401, E402
    audit_views,
    figures,
    map_views,
    requests_register,
    retention_views,
    tasks,
)
