"""The metadata repository (SPEC §6): Archiva's content model over storages and containers.

``repository`` resolves tree paths to nodes; ``content``, ``configuration``, ``references``
and the facets (``audit_log``, ``statistics``, ``problem_reports``) answer for their sections;
``fixity`` and ``maintenance`` do the scheduled work. The audit trail and problem reports it
serves live in ``sigarchive.records``, below both this package and ``archive``.
"""
