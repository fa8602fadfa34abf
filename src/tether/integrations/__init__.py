"""Integrations with training frameworks: one thin module per framework.

* ``tether.integrations.lightning.TetherLogger``: a Lightning ``Logger`` (``lightning`` or
  ``pytorch_lightning``), for one process and for the strategies that spawn or fork ranks.
* ``tether.integrations.fastai.TetherCallback``: a fastai ``Callback``.
* ``tether.integrations.transformers.TetherCallback``: a Hugging Face ``TrainerCallback``.
* ``tether.integrations.keras.TetherCallback``: a Keras 3 ``Callback`` (any backend).

Each takes ``run=`` to write to a run you started, and otherwise starts one with
``tether.init(**kwargs)`` from the keyword arguments it was given. Only rank 0 logs metrics
and config; every process that has the run records its own console, labelled by rank.

A run an integration started outlives training, on every rank alike: the end of training
is the summary's ``_train_end``, and the run ends at ``tether.finish()``, the next
``tether.init()`` (a new logger or callback starting its own run included), or the end of
the process (``tether.integrations._handle`` has the details).

This package imports no framework: each module imports its own, and only when imported itself
(``import tether`` never imports one). See ``docs/integrations/`` for a runnable example each.
"""
