"""Background work: one :class:`~sigarchive.workers.loop.Loop` class, a job per concern.

``sigarchive serve`` runs the loops in threads of the server process (embedded default);
``sigarchive worker`` runs them alone, any number of processes on any number of machines
against the same database. This package sits above ``archive``: it calls the use cases.
"""
