from tests.store.conftest import migrated_url, session, store_engine  # noqa: F401
