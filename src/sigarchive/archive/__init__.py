"""The archive's use cases, one function each: upload (``ingest``), search, details, status,
report and signatures.zip (``queries``), the document itself (``download``), enhancement and
its renewal (``enhancement``, ``renewal``), end of storage (``retention``), post-enhancement
plugins, accounts and trust anchors. Work on a container is leased (``leases``).

They take their collaborators (database, plugin registry, time-stamper, settings values) as
arguments; only the composition root (``sigarchive.runtime``) builds them.
"""
