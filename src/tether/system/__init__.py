"""What the machine did and what it ran: system metrics and the run's environment.

* ``sampler``: one thread per host (the run's creating process, or local rank 0 under a
  launcher) that writes a ``K_SYSTEM`` record every few seconds: the job's process tree
  (``process_tree``), the host (``host``) and its GPUs (``gpu`` over ``nvml``).
* ``environment``: the ``K_ENVIRONMENT`` sections captured once per run by the main writer;
  the slow ones (packages, GPUs, ``git``) on a background thread.
* ``redact``: what may be stored from environment variables and URLs (never a secret).

Nothing here is imported by ``import tether``; psutil and NVML are imported only by the
sampler's own thread, so ``init()`` pays for neither.
"""
