"""Artifacts: versioned, content-addressed files and directories a run logs or uses.

A file is stored as blobs in the run's blobs folder (``tether.media.blobs``): one blob when it
is at most ``chunks.CHUNK_BYTES``, else one blob per chunk. The run's segment carries an
``ARTIFACT`` record (``manifest`` owns its fields) naming them. ``docs/artifacts.md`` is the
user's guide.

- ``chunks``: the chunk size and the split of a file;
- ``manifest``: names, refs, ``ArtifactFile``, ``digest_of`` and the record fields;
- ``snapshot``: reading a path once into blobs (what is logged is what was read);
- ``local_index``: version numbers known offline, per runs directory;
- ``artifact``: the ``Artifact`` class, local and remote alike;
- ``cache``: downloads, checked file by file.
"""
