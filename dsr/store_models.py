"""Every table of the tool's store, for what needs the whole schema: `create_all`, the Alembic
migrations, and the check that the store is up to date.

dsr.db knows none of the models (each models module imports it for its column types), so the
registry of all of them lives here, above them.
"""

from __future__ import annotations


def import_models() -> None:
    """Import every module that defines tables, so that `SQLModel.metadata` holds them all."""
    import dsr.accounts.models
    import dsr.answer_templates.models
    import dsr.api.callbacks  # and the listener that queues status callbacks
    import dsr.api.models
    import dsr.audit.models
    import dsr.delivery.models
    import dsr.disclosures.models
    import dsr.documents.models
    import dsr.execution.change_records
    import dsr.execution.runs
    import dsr.holds.models
    import dsr.mentions.models
    import dsr.outbox.models
    import dsr.register.models
    import dsr.requests.answers  # and the listener that completes answered requests
    import dsr.requests.closed_counts
    import dsr.requests.identities
    import dsr.requests.models
    import dsr.retention.models
    import dsr.scheduler.models
    import dsr.suppression.models  # noqa: F401
