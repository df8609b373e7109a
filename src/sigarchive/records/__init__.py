"""What every layer records: the audit trail (a hash chain) and problem reports."""
