"""How each process of a job becomes a writer of the run, and how it leaves.

* ``hooks``: fork children get writers of their own, exit and ``os._exit`` write everything
  out, ``finish()`` waits briefly for busy children; labels (``main``, ``rank3``, ``worker2``).
* ``spawned``: processes started while a run captures the console join it first.
* ``exit_watch``: an uncaught exception or SIGTERM ends this process's part of the run.
* ``launch``: ranks of a launcher (torchrun) derive one run id and join rank 0's run.

Nothing here imports the client API: what joining a run needs, the client provides through
``tether._registry``.
"""
