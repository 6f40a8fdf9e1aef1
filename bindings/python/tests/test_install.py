"""pip install --no-build-isolation bindings/python into a fresh venv (Debian's
python3-venv, system site packages for NumPy; no index), then use it from
outside the checkout."""
import os
import subprocess
import sys

from conftest import MICRO, PKG_DIR


def test_pip_install_into_a_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index",
                          PKG_DIR], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    code = ("import pecore, sys; m = pecore.Model(sys.argv[1]); "
            "print(pecore.__file__); print(m.encode_image(sys.argv[2], size=64).shape)")
    run = subprocess.run([py, "-c", code, MICRO, os.path.join(os.path.dirname(MICRO), "..",
                                                                "images", "chelsea.png")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    where = run.stdout.split()[0]
    assert where.startswith(str(venv)) and run.stdout.strip().endswith("(1, 32)")
