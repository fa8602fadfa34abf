"""System metrics: who samples, what the process tree and the GPUs read, and that nothing the
sampler meets (a vanished tree, a killed thread, NVML failures) reaches training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import tether
from tether import _diagnostics
from tether.errors import UsageError
from tether.store.reader import list_segments, read_segment
from tether.system.gpu import GpuReader, visible_devices
from tether.system.nvml import RecordedNvml
from tether.system.sampler import Sampler

from .conftest import only_run, run_script

FIXTURE = Path(__file__).with_name("system_nvml_query.json")
GPU_METRICS = {
    "util_percent",
    "mem_used_bytes",
    "mem_total_bytes",
    "temp_c",
    "power_w",
    "power_limit_w",
    "sm_clock_mhz",
    "proc_mem_bytes",
}
MIB = 1024 * 1024


def _wait_for(condition: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _tether_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "TetherWarning" in line]


# -- the process tree ------------------------------------------------------------------------
DATALOADER = """
import json, os, time
import psutil, torch
import tether
from torch.utils.data import DataLoader, Dataset

HELD = []

def hold_memory(worker_id):
    # 64 MiB of private pages per worker, written so that they are resident.
    HELD.append(bytearray(b"\\x01") * (64 * 1024 * 1024))
    tether.log({"worker": worker_id})  # a writer of the run like any fork child: no sampler

class Numbers(Dataset):
    def __len__(self):
        return 10_000
    def __getitem__(self, i):
        time.sleep(0.002)
        return torch.tensor([float(i)])

run = tether.init(project="sys", system=0.2, console="off")
# 200 MiB in the main process before the workers fork: each worker maps it too (copy on
# write), so summed RSS would count it three times.
SHARED = bytearray(b"\\x02") * (200 * 1024 * 1024)
loader = DataLoader(Numbers(), batch_size=8, num_workers=2, persistent_workers=True,
                    multiprocessing_context="fork", worker_init_fn=hold_memory)
batches = iter(loader)
next(batches)  # both workers have started (and hold their memory) by the first batch
started = time.time()
me = psutil.Process()
workers = [c for c in me.children() if c.status() != psutil.STATUS_ZOMBIE]
found, own, alive, naive = None, 0, [], 0
deadline = time.monotonic() + 60
while found is None and time.monotonic() < deadline:
    run.log({"loss": float(next(batches).sum())})
    run.flush()
    frame = tether.load_run(run.dir).system()
    # Samples once the workers hold their memory; of those, one where nothing else (a git
    # started by the environment's thread) was alive in the tree.
    later = frame[(frame["_time"] > started + 0.5) & (frame["proc.count"] >= 3)]
    if len(later) >= 3:
        found = later.loc[later["proc.count"].idxmin()].to_dict()
        own = me.memory_full_info().pss
        alive = [w.pid for w in workers if w.is_running()]
        naive = sum(p.memory_info().rss for p in [me, *workers])
print(json.dumps({"sample": found, "own_pss": own, "workers": alive, "naive_rss": naive}))
del batches, loader
run.finish()
"""


def test_dataloader_workers_are_in_the_tree_memory_and_count(run_dir: Path) -> None:
    pytest.importorskip("torch")
    done = run_script(run_dir, DATALOADER, timeout=180)
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    sample = facts["sample"]
    assert sample is not None, done.stderr
    assert len(facts["workers"]) == 2
    # The main process and its two DataLoader workers, nothing counted twice.
    assert sample["proc.count"] == 3
    # Each worker holds 64 MiB of its own: the tree's memory has them beside the main's...
    assert sample["proc.rss_bytes"] >= facts["own_pss"] + 2 * 60 * MIB
    # ...and the main's 200 MiB that the workers share once, not three times (summed RSS).
    assert facts["naive_rss"] - sample["proc.rss_bytes"] > 300 * MIB
    assert sample["_writer"] == "main"
    run = only_run(run_dir)
    # One sampler per host: the forked workers wrote their own segments, but no samples.
    workers = [s for s in map(read_segment, list_segments(run.dir)) if s and not s.is_main]
    assert workers and all(not segment.system for segment in workers)
    assert set(run.system()["_writer"]) == {"main"}


VANISHING_ROOT = """
import os, sys, time
import tether

parent = os.getppid()
run = tether.init(project="sys", system=0.1, console="off")
deadline = time.monotonic() + 60
# Samples with the root alive (a few: the first may also see a git run by the environment).
while len(tether.load_run(run.dir).system()) < 4:
    if time.monotonic() > deadline:
        sys.exit(2)
    run.flush()
    time.sleep(0.01)
with open("ready", "w") as out:
    out.write(str(os.getpid()))
deadline = time.monotonic() + 60
while os.getppid() == parent:  # the tree's root (the "agent" that started us) goes away
    if time.monotonic() > deadline:
        sys.exit(3)
    time.sleep(0.01)
gone = time.time()
for i in range(100):
    run.log({"i": i})
    time.sleep(0.01)
run.finish()
with open("done", "w") as out:
    out.write(str(gone))
"""

AGENT = """
import os, subprocess, sys, time
with open("child.out", "w") as out, open("child.err", "w") as err:
    child = subprocess.Popen([sys.executable, "script.py"], stdout=out, stderr=err)
deadline = time.monotonic() + 60
while not os.path.exists("ready") and time.monotonic() < deadline:
    time.sleep(0.01)
os._exit(0)  # the root of the job's tree vanishes, leaving the training process running
"""


def test_a_vanished_process_tree_never_reaches_training(run_dir: Path) -> None:
    (run_dir / "script.py").write_text(VANISHING_ROOT)
    # Under torchrun the tree's root is the agent: this "agent" dies while the rank trains.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    env.update({"TORCHELASTIC_RUN_ID": "vanish", "LOCAL_RANK": "0", "PYTHONUNBUFFERED": "1"})
    subprocess.run([sys.executable, "-c", AGENT], cwd=run_dir, env=env, timeout=120, check=True)
    trained = run_dir / "done"
    try:
        _wait_for(trained.exists, "the orphaned training to finish", timeout=120)
    finally:
        if not trained.exists() and (run_dir / "ready").exists():
            os.kill(int((run_dir / "ready").read_text()), 9)
    gone = float(trained.read_text())
    stderr = (run_dir / "child.err").read_text()
    run = only_run(run_dir)
    assert run.state == "finished" and [row["i"] for row in run.rows()] == list(range(100))
    samples = run.system()
    # The agent leaves only once "ready" is written; the rank notices it some polls later,
    # and under load the sampler may notice first: samples between the two have no tree.
    ready = (run_dir / "ready").stat().st_mtime
    before = samples[samples["_time"] < ready]
    after = samples[samples["_time"] > gone + 0.2]
    assert len(before) and before["proc.count"].iloc[-1] == 2  # the agent and this rank
    assert len(after) >= 2
    assert after["proc.count"].isna().all()  # no tree any more...
    assert after["host.mem_used_bytes"].notna().all()  # ...but the host is still sampled
    said = _tether_warnings(stderr)
    assert len(said) == 1 and "process tree" in stderr, stderr
    assert "Traceback" not in stderr


KILLED_SAMPLER = """
import ctypes, threading, time
import tether

run = tether.init(project="sys", system=0.05, console="off")
sampler = next(t for t in threading.enumerate() if t.name == "tether-system")
# Until it has taken a sample (on a busy machine the first can take long): then kill it.
deadline = time.monotonic() + 60
while run._system.samples < 1 and time.monotonic() < deadline:
    time.sleep(0.01)
# Kill the sampler thread as a debugger or a C extension could: an exception raised in it.
ctypes.pythonapi.PyThreadState_SetAsyncExc(
    ctypes.c_ulong(sampler.ident), ctypes.py_object(KeyboardInterrupt)
)
for i in range(100):
    run.log({"i": i})
    time.sleep(0.01)
sampler.join(30)
print("sampler alive:", sampler.is_alive())
run.finish()
print("trained")
"""


def test_a_killed_sampler_thread_never_reaches_training(run_dir: Path) -> None:
    done = run_script(run_dir, KILLED_SAMPLER)
    assert "sampler alive: False" in done.stdout and "trained" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    said = _tether_warnings(done.stderr)
    assert len(said) == 1 and "system metrics stopped" in done.stderr, done.stderr
    run = only_run(run_dir)
    assert run.state == "finished" and [row["i"] for row in run.rows()] == list(range(100))
    assert len(run.system()) >= 1


def test_finish_is_not_slowed_by_the_sampler(run_dir: Path) -> None:
    run = tether.init(project="sys", dir=run_dir, console="off")  # the default: every 10 s

    def first_sample() -> Any:
        run.flush()
        return tether.load_run(run.dir).last_system_sample

    _wait_for(first_sample, "the first sample (taken at once)")
    sampler = next(t for t in threading.enumerate() if t.name == "tether-system")
    started = time.monotonic()
    run.finish()
    took = time.monotonic() - started
    # The sampler sleeps for 10 s between samples; finish() does not wait for that.
    assert took < 2.0
    sampler.join(5)
    assert not sampler.is_alive()


# -- settings ------------------------------------------------------------------------------
def test_system_setting_turns_the_sampler_off_and_names_bad_values(run_dir: Path) -> None:
    off = tether.init(project="sys", dir=run_dir, system=False, console="off")
    assert not [t for t in threading.enumerate() if t.name == "tether-system"]
    off.finish()
    os.environ["TETHER_SYSTEM_INTERVAL_S"] = "0"
    env_off = tether.init(project="sys", dir=run_dir, console="off")
    env_off.finish()
    for run in (off, env_off):
        assert tether.load_run(run.dir).last_system_sample is None
    os.environ["TETHER_SYSTEM_INTERVAL_S"] = "often"
    with pytest.raises(UsageError, match="TETHER_SYSTEM_INTERVAL_S='often'"):
        tether.init(project="sys", dir=run_dir)
    del os.environ["TETHER_SYSTEM_INTERVAL_S"]
    for bad in (-1, "5", float("nan")):
        with pytest.raises(UsageError, match="system="):
            tether.init(project="sys", dir=run_dir, system=bad)  # type: ignore[arg-type]
    assert tether.current_run() is None


# -- who samples ---------------------------------------------------------------------------
RANK = """
import os, time
import tether
run = tether.init(project="sys", system=0.05, console="off")
run.log({"rank": int(os.environ["RANK"])})
time.sleep(1.0)
run.finish()
"""


def test_one_sampler_per_host_under_a_launcher(run_dir: Path) -> None:
    (run_dir / "rank.py").write_text(RANK)
    base = {k: v for k, v in os.environ.items() if not k.startswith("TETHER_")}
    base.update({"WORLD_SIZE": "3", "TETHER_RUN_ID": "launch-sys", "MASTER_ADDR": "localhost"})
    ranks = [
        {"RANK": "0", "LOCAL_RANK": "0"},  # host A: samples, and writes the environment
        {"RANK": "1", "LOCAL_RANK": "1"},  # host A: rank 0 samples this host
        {"RANK": "2", "LOCAL_RANK": "0", "GROUP_RANK": "1"},  # host B: samples host B
    ]
    processes = []
    try:
        for number, extra in enumerate(ranks):
            processes.append(
                subprocess.Popen([sys.executable, "rank.py"], cwd=run_dir, env={**base, **extra})
            )
            if number == 0:
                _wait_for(lambda: list((run_dir / "tether").glob("run-*")), "rank 0's run")
        codes = [process.wait(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert codes == [0, 0, 0]
    run = only_run(run_dir)
    assert set(run.system()["_writer"]) == {"rank0", "rank2"}
    segments = [s for s in map(read_segment, list_segments(run.dir)) if s is not None]
    with_environment = {s.label for s in segments if s.environment}
    assert with_environment == {"rank0"}
    assert run.environment["launcher"]["world_size"] == 3


# -- GPUs through a recorded NVML query ------------------------------------------------------
def test_gpu_reader_on_a_recorded_query_names_metrics_and_remaps_devices() -> None:
    recorded = json.loads(FIXTURE.read_text())
    reader = GpuReader(RecordedNvml(recorded), visible="2,0")
    assert reader.start() and reader.devices == [2, 0]
    sample = reader.sample(tree_pids={41230, 41247})
    by_device: dict[str, set[str]] = {}
    for key in sample:
        family, index, name = key.split(".")
        assert family == "gpu"
        by_device.setdefault(index, set()).add(name)
    assert by_device == {"0": GPU_METRICS, "1": GPU_METRICS}
    nvml2, nvml0 = recorded["devices"][2], recorded["devices"][0]
    # The job's device 0 is NVML's device 2 (CUDA_VISIBLE_DEVICES=2,0).
    assert sample["gpu.0.util_percent"] == nvml2["nvmlDeviceGetUtilizationRates"]["gpu"]
    assert sample["gpu.0.mem_used_bytes"] == nvml2["nvmlDeviceGetMemoryInfo"]["used"]
    assert sample["gpu.0.power_w"] == pytest.approx(nvml2["nvmlDeviceGetPowerUsage"] / 1000)
    assert sample["gpu.0.power_limit_w"] == 700.0
    assert sample["gpu.0.proc_mem_bytes"] == 0  # another user's process only
    assert sample["gpu.1.temp_c"] == nvml0["nvmlDeviceGetTemperature"]
    assert sample["gpu.1.sm_clock_mhz"] == nvml0["nvmlDeviceGetClockInfo"]
    assert sample["gpu.1.proc_mem_bytes"] == 41104 * MIB
    section = reader.section()
    assert section["driver_version"] == "550.54.15" and section["cuda_version"] == "12.4"
    assert [d["index"] for d in section["devices"]] == [0, 1]
    assert section["devices"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert section["devices"][0]["memory_total_bytes"] == 85520809984

    every = GpuReader(RecordedNvml(recorded))  # CUDA_VISIBLE_DEVICES unset: all four
    assert every.start() and every.devices == [0, 1, 2, 3]
    sample = every.sample(tree_pids={41230, 41247})
    assert sample["gpu.1.proc_mem_bytes"] == (1024 + 40960) * MIB  # two of our processes
    assert "gpu.3.power_w" not in sample and "gpu.3.power_limit_w" in sample  # unsupported


def test_cuda_visible_devices_by_index_uuid_and_where_the_list_ends() -> None:
    uuids = [d["nvmlDeviceGetUUID"] for d in json.loads(FIXTURE.read_text())["devices"]]
    assert visible_devices("GPU-9d3f2e1a,GPU-5b1f", 4, uuids) == [2, 0]
    assert visible_devices("1,7,0", 4, uuids) == [1]  # CUDA stops at the first bad entry
    assert visible_devices("3,3", 4, uuids) == [3]
    assert visible_devices("", 4, uuids) == []
    assert visible_devices("-1", 4, uuids) == []
    assert visible_devices("MIG-5b1f0c1e", 4, uuids) == []
    assert visible_devices(None, 2, []) == [0, 1]
    reader = GpuReader(RecordedNvml(json.loads(FIXTURE.read_text())), visible="GPU-ae4a")
    assert reader.start() and reader.devices == [3]


def _sampled(source: Any, tmp_path: Path, samples: int = 5) -> tuple[list[Any], list[str]]:
    """Run a real sampler on ``source`` until ``samples`` samples; its records and warnings."""
    _diagnostics.reset_after_fork()  # rate limits of earlier tests must not hide a warning
    records: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler = Sampler(records.append, interval=0.01, disk_path=tmp_path, gpu_source=source)
        sampler.start()
        try:
            _wait_for(lambda: len(records) >= samples, f"{samples} samples")
        finally:
            sampler.stop()
    said = [str(w.message) for w in caught if issubclass(w.category, tether.TetherWarning)]
    return records, said


def test_no_gpu_or_no_nvml_samples_no_gpu_and_says_nothing(tmp_path: Path) -> None:
    records, said = _sampled(RecordedNvml({"init_error": "NVML_ERROR_LIBRARY_NOT_FOUND"}), tmp_path)
    assert said == []
    assert all(not key.startswith("gpu.") for record in records for key in record[2])
    assert all("host.mem_used_bytes" in record[2] for record in records)
    if GpuReader().start():
        pytest.skip("this machine has a GPU: the real-NVML half is for machines without one")
    done = run_script(
        tmp_path,
        """
        import time, tether
        run = tether.init(project="sys", system=0.05, console="off")
        time.sleep(0.5)
        run.finish()
        """,
    )
    assert _tether_warnings(done.stderr) == [], done.stderr
    samples = only_run(tmp_path).system()
    assert len(samples) >= 2 and not [c for c in samples.columns if c.startswith("gpu.")]


def test_nvml_failures_are_said_once_and_cost_only_the_gpu_metrics(tmp_path: Path) -> None:
    records, said = _sampled(RecordedNvml({"init_error": "NVML_ERROR_UNKNOWN"}), tmp_path)
    assert len(said) == 1 and "NVML_ERROR_UNKNOWN" in said[0]
    recorded = json.loads(FIXTURE.read_text())
    recorded["devices"][1]["nvmlDeviceGetUtilizationRates"] = {"error": "NVML_ERROR_GPU_IS_LOST"}
    records, said = _sampled(RecordedNvml(recorded), tmp_path, samples=10)
    assert len(said) == 1 and "NVML_ERROR_GPU_IS_LOST" in said[0], said
    assert all("host.mem_used_bytes" in record[2] for record in records)
