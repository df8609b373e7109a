"""ASN.1 plumbing of the signature core: OIDs, schema classes, one BER reader/writer, raw parts."""
