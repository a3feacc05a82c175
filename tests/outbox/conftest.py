"""The certificate of the outbox tests' SMTP servers with TLS (`smtp_server` is the suite's)."""

from tests.smtp_server import smtp_tls_files

__all__ = ["smtp_tls_files"]
