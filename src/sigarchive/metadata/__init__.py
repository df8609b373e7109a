"""The metadata repository (SPEC §6): Archiva's content model over storages and containers.

``repository`` resolves tree paths to nodes; ``content``, ``configuration``, ``references``
and the facets (``audit_log``, ``statistics``, ``problem_reports``) answer for their sections;
``audit_chain`` keeps the audit trail tamper-evident; ``fixity`` and ``maintenance`` do the
scheduled work. Nothing here is imported by this package's ``__init__``: the audit trail
imports ``audit_chain`` early and must not pull the rest in.
"""
