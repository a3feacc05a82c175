"""The audit log: append-only, hash-chained events that show who did what, and when (R8)."""
