"""Shared fixtures: the golden data, loaded models, the CLI, one Dask cluster."""
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_DIR = os.path.dirname(HERE)                       # bindings/python
ROOT = os.path.dirname(os.path.dirname(PKG_DIR))
GOLDEN = os.environ.get("PECORE_GOLDEN") or os.path.join(ROOT, "..", "shared", "golden")
GOLDEN_DINOV2 = os.environ.get("PECORE_GOLDEN_DINOV2") or os.path.join(ROOT, "..", "shared",
                                                                        "golden-dinov2")
GOLDEN_STRESS = os.environ.get("PECORE_GOLDEN_STRESS") or os.path.join(ROOT, "..", "shared",
                                                                        "golden-stress")
CLI = os.environ.get("PECORE_CLI") or os.path.join(ROOT, "build", "pecore")

# The package from this checkout (make python), for us and for every process
# we start (corpus subprocesses, Dask workers).
if PKG_DIR not in sys.path:
    sys.path.insert(0, PKG_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (PKG_DIR, os.environ.get("PYTHONPATH")) if p)

import pecore  # noqa: E402


def golden(*parts):
    return os.path.join(GOLDEN, *parts)


def load_manifest(root=GOLDEN):
    with open(os.path.join(root, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)["cases"]


VOCAB = golden("bpe_simple_vocab_16e6.txt.gz")
MICRO = golden("models", "pe-micro.safetensors")
T16 = golden("models", "pe-core-t16-384.safetensors")
IMAGES = sorted(golden("images", f) for f in os.listdir(golden("images")))

_models = {}


def model(rel, **kw):
    """A model shared by the tests (threads=2 unless told)."""
    key = (rel, tuple(sorted(kw.items())))
    if key not in _models:
        kw.setdefault("threads", 2)
        _models[key] = pecore.Model(golden(rel) if not os.path.isabs(rel) else rel, **kw)
    return _models[key]


@pytest.fixture(scope="session")
def dask_cluster():
    """One 2-worker LocalCluster (processes, one thread each) for the session:
    starting one costs seconds."""
    import logging

    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    yield cluster
    cluster.close()
