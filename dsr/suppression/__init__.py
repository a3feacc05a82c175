"""The suppression list: keyed hashes of addresses that must not be sent marketing again (R28)."""
