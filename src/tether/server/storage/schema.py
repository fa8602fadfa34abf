"""The database schema, as SQLAlchemy Core tables (one ``MetaData`` for all).

History is stored as *chunks*: for one (run, writer, key), the steps, times and values of one
upload, as packed arrays. Reading a 1,000,000-point series is then a few hundred blob reads,
and the server can downsample it with numpy instead of walking a million rows.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# An owner of projects: a person (``kind`` "user") or a team ("team"). One table, so a
# project's ``owner_id`` needs no second column and a name is never both a user and a team.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("admin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("kind", String(8), nullable=False, default="user", server_default="user"),
    # A disabled user's keys stop working at once (checked on every request).
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    # Where runs go when the client names no owner (NULL: the user's own namespace).
    Column("default_owner_id", Integer, ForeignKey("users.id", ondelete="SET NULL")),
)

# A user's role in a team: "viewer" reads, "member" also writes runs, "admin" also manages
# the team's members and keys.
memberships = Table(
    "memberships",
    metadata,
    Column("team_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(8), nullable=False),
    Column("created_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(16), nullable=False),
    # sha256 of the key: keys are random, so a fast hash is enough and lookups stay O(1).
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("description", String(256)),
    Column("expires_at", Float),
    Column("last_used_at", Float),
    Column("revoked_at", Float),
    # Registered from TETHER_SERVER_ADMIN_KEY: a different key there revokes this one.
    Column("from_env", Boolean, nullable=False, default=False, server_default=false()),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("owner_id", "name", name="uq_project_owner_name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("group_name", String(256)),
    Column("job_type", String(256)),
    Column("tags", JSON, nullable=False),
    Column("notes", Text),
    Column("host", String(256)),
    Column("config", JSON, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("summary_times", JSON, nullable=False),
    Column("user_summary", JSON, nullable=False),
    Column("start_time", Float, nullable=False),
    Column("end_time", Float),
    Column("last_step", BigInteger),
    Column("updated_at", Float, nullable=False),
    Column("crashed", Boolean, nullable=False, default=False),
    # A few flat fields of the run's environment (``git.commit``, ``gpu.name``...) for the runs
    # table's columns and order; the whole environment is in ``run_environments``.
    Column("environment_summary", JSON),
    UniqueConstraint("project_id", "run_id", name="uq_run_project_id"),
    Index("ix_runs_project_start", "project_id", "start_time"),
)

writers = Table(
    "writers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("writer_id", String(64), nullable=False),
    Column("label", String(128), nullable=False),
    Column("pid", Integer),
    Column("host", String(256)),
    Column("main", Boolean, nullable=False, default=False),
    Column("start_time", Float, nullable=False),
    Column("received_bytes", BigInteger, nullable=False, default=0),
    Column("last_seq", BigInteger, nullable=False, default=-1),
    Column("rows", BigInteger, nullable=False, default=0),
    Column("final_state", String(16)),
    Column("final_time", Float),
    Column("exit_code", Integer),
    # What the client left out because the server refused it (a value it cannot store, a
    # record over the body limit): how much, and the last reason given.
    Column("skipped_records", BigInteger, nullable=False, default=0, server_default="0"),
    Column("skipped_bytes", BigInteger, nullable=False, default=0, server_default="0"),
    Column("skip_reason", Text),
    UniqueConstraint("run_pk", "writer_id", name="uq_writer_run_id"),
)

row_schemas = Table(
    "row_schemas",
    metadata,
    Column("writer_pk", Integer, ForeignKey("writers.id", ondelete="CASCADE"), primary_key=True),
    Column("schema_id", Integer, primary_key=True, autoincrement=False),
    Column("key_names", JSON, nullable=False),
)

metric_keys = Table(
    "metric_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(512), nullable=False),
    UniqueConstraint("run_pk", "key", name="uq_metric_key"),
)

series_chunks = Table(
    "series_chunks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("writer_pk", Integer, ForeignKey("writers.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", Integer, ForeignKey("metric_keys.id", ondelete="CASCADE"), nullable=False),
    Column("count", Integer, nullable=False),
    # "f8": values are little-endian float64; "mp": a msgpack list (strings, bools, None).
    Column("kind", String(4), nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("times", LargeBinary, nullable=False),
    Column("vals", LargeBinary, nullable=False),
    # A coarse copy for downsampled reads: each block's minimum and maximum point
    # (``series.LOD_BLOCK`` points a block); NULL for small or non-numeric chunks.
    Column("lod_steps", LargeBinary),
    Column("lod_times", LargeBinary),
    Column("lod_vals", LargeBinary),
    Index("ix_chunks_run_key", "run_pk", "key_id"),
)

console_lines = Table(
    "console_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("writer_pk", Integer, ForeignKey("writers.id", ondelete="CASCADE"), nullable=False),
    Column("time", Float, nullable=False),
    Column("stream", SmallInteger, nullable=False),
    Column("text", Text, nullable=False),
    Index("ix_console_run_id", "run_pk", "id"),
)

# System metrics (``K_SYSTEM`` samples). A metric name is stored once per run; a chunk holds
# consecutive samples of one writer as a float64 matrix (a row per sample, a column per metric
# of ``metric_ids``, NaN where a sample lacks that metric). Small uploads (the online uploader
# sends about one sample at a time) are appended to the writer's last chunk, so a week of
# 10-second samples is about a thousand rows (``tether.server.system``).
system_metrics = Table(
    "system_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(512), nullable=False),
    UniqueConstraint("run_pk", "name", name="uq_system_metric"),
)

system_chunks = Table(
    "system_chunks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("writer_pk", Integer, ForeignKey("writers.id", ondelete="CASCADE"), nullable=False),
    Column("count", Integer, nullable=False),
    Column("metric_ids", LargeBinary, nullable=False),  # little-endian int32, system_metrics.id
    Column("times", LargeBinary, nullable=False),  # little-endian float64, one per sample
    Column("vals", LargeBinary, nullable=False),  # little-endian float64, count x metrics
    Index("ix_system_chunks_run_writer", "run_pk", "writer_pk"),
)

# The run's environment (``K_ENVIRONMENT`` records), merged by section: a later record's
# section replaces an earlier one's (``times`` holds each section's record time).
run_environments = Table(
    "run_environments",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("sections", JSON, nullable=False),
    Column("times", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Media (``K_FILE`` records of kind image, histogram, table, text): one row per logged object.
# ``sha256`` names its bytes (NULL for a histogram, whose counts are all in ``meta``); a run
# may read a blob only once it sent the bytes itself (``run_blobs``).
media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("writer_pk", Integer, ForeignKey("writers.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(512), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("idx", Integer, nullable=False),  # position in a list logged under the key
    Column("kind", String(16), nullable=False),
    Column("sha256", String(64)),
    Column("size", BigInteger),
    Column("media_type", String(128)),
    Column("meta", JSON, nullable=False),
    Column("time", Float, nullable=False),
    Index("ix_media_run_key_step", "run_pk", "key", "step"),
)

# The blobs a run sent (and so may read back): access is per run, never by hash alone.
run_blobs = Table(
    "run_blobs",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)

# What the blob store holds (each blob once, whichever runs sent it).
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Artifacts (``K_ARTIFACT`` records, docs/api.md "Artifacts"): a named, typed series of
# versions per project. A version is a set of files; each file is one blob or an ordered list
# of chunk blobs. A version is *pending* (invisible, ``version`` NULL) until every blob it
# names is linked to its producing run (``run_blobs``), then *committed* with the next number
# of ``artifacts.next_version`` (numbers are never reused, even after a deletion).
artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("type", String(64), nullable=False),
    Column("next_version", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_artifact_project_name"),
)

artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer),  # NULL while pending
    Column("digest", String(64), nullable=False),
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="SET NULL")),  # the producer
    Column("metadata", JSON, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("file_count", Integer, nullable=False),
    # Aliases asked for while pending, set when the version commits.
    Column("wanted_aliases", JSON, nullable=False),
    Column("logged_at", Float, nullable=False),  # the record's time
    Column("created_at", Float),  # when it committed
    UniqueConstraint("artifact_id", "digest", name="uq_artifact_version_digest"),
    UniqueConstraint("artifact_id", "version", name="uq_artifact_version_number"),
)

artifact_files = Table(
    "artifact_files",
    metadata,
    Column(
        "version_pk",
        Integer,
        ForeignKey("artifact_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("chunks", JSON),  # the chunk hashes in order; NULL when the file is one blob
)

# Every blob a version needs (a file's own hash, or each of its chunks): what commits it and
# what the garbage collection keeps.
artifact_blobs = Table(
    "artifact_blobs",
    metadata,
    Column(
        "version_pk",
        Integer,
        ForeignKey("artifact_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("sha256", String(64), primary_key=True),
    Index("ix_artifact_blobs_sha256", "sha256"),
)

artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column(
        "artifact_id", Integer, ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("alias", String(128), primary_key=True),
    Column(
        "version_pk",
        Integer,
        ForeignKey("artifact_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("updated_at", Float, nullable=False),
)

# Lineage: run ``run_pk`` used the version of artifact ``name`` with ``digest`` (kept by name
# and digest, so a consumer synced before its producer still finds it).
artifact_uses = Table(
    "artifact_uses",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), primary_key=True),
    Column("digest", String(64), primary_key=True),
    Column("ref", String(128), nullable=False),
    Column("time", Float, nullable=False),
    Index("ix_artifact_uses_name_digest", "project_id", "name", "digest"),
)

# A project's saved workspace views (issue 16): ``state`` is the object the web UI encodes in
# its URL (filter, grouping, columns, panels...), kept as given (at most 64 KiB of JSON).
views = Table(
    "views",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("state", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    UniqueConstraint("project_id", "name", name="uq_view_project_name"),
)
