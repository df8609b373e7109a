"""Helpers shared by the test suites: a throw-away PKI, real signatures, the interop corpus."""
