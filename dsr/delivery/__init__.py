"""Reports of access and portability requests: kept with restrictive permissions, reviewed by
staff, delivered to the verified address through a download page guarded by a one-time code (or
as an encrypted PDF), and deleted once expired (R13, R32)."""
