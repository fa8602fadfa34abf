"""Media: images, histograms, tables and texts logged with ``run.log()``.

``types`` (``Image``, ``Text``), ``histogram`` and ``table`` are what users make; ``encode``
turns them into blobs and file records off the training thread, ``queue`` bounds what waits
for that, ``blobs`` owns the ``<run dir>/blobs/<sha256>`` layout, and ``items`` reads them
back (``MediaItem``). Importing this package imports none of them.
"""
