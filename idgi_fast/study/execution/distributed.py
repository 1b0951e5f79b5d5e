"""The study under torchrun and signals: this process's rank, its shard of the database and the
merge of the shards, and SIGINT/SIGTERM asking the run to stop after the current batch."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from ... import __version__
from ..store.database import Store


class StopRequests:
    """SIGINT/SIGTERM ask the run to stop after the current batch (a second SIGINT interrupts)."""

    def __init__(self):
        self.requested = False
        self.saved = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\n{signal.Signals(signum).name}: stopping after the current batch (its results are kept)",
            flush=True,
        )

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


@dataclass
class Ranks:
    """This process's place in a torchrun launch (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # whether run_study created the process group (and so destroys it)

    @classmethod
    def from_environment(cls) -> Ranks:
        import os

        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        import torch.distributed as dist

        owns = not dist.is_initialized()
        if owns:  # NCCL between GPUs, gloo between CPU processes; torchrun's rendezvous gives the rest
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def shard_path(db: Path, rank: int) -> Path:
    return db.with_name(f"{db.stem}.rank{rank}{db.suffix}")


def merge_shards(db: Path) -> None:
    """Fold every shard file beside `db` into it, then delete them (rank 0 only)."""
    shards = sorted(db.parent.glob(f"{db.stem}.rank*{db.suffix}"))
    if not shards:
        return
    store = Store(db, __version__)
    try:
        for shard in shards:
            store.merge(shard)
            for path in (shard, Path(f"{shard}-wal"), Path(f"{shard}-shm")):
                path.unlink(missing_ok=True)
    finally:
        store.close()
