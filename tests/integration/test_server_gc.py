"""A started server takes what it holds out of the garbage collector's full collections (``api.main``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# In a process of its own: the suite's processes have started apps before.
STARTS_TWO_APPS = """
import gc, sys
from pathlib import Path
from fastapi.testclient import TestClient
from api.main import create_app
from ledger.settings import Settings

data = Path(sys.argv[1])
settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'ledger.sqlite3'}", key_dir=data / "keys",
                    checkpoint_interval=0)
before = gc.get_freeze_count()
with TestClient(create_app(settings)) as client:
    assert client.get("/health").status_code == 200
    first = gc.get_freeze_count()
with TestClient(create_app(settings)) as client:
    second = gc.get_freeze_count()
print(before, first, second)
"""


def test_a_started_app_freezes_the_objects_it_holds_once_a_process(tmp_path):
    subprocess.run([sys.executable, "-m", "wushe", "--data-dir", str(tmp_path), "init"], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    done = subprocess.run([sys.executable, "-c", STARTS_TWO_APPS, str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before, first, second = map(int, done.stdout.split())
    assert before == 0
    assert first > 20_000  # the modules, routes and schemas of the app, not a handful of objects
    # a second app in the same process freezes nothing more (frozen objects the first app let go are
    # freed as ever, so the count only falls; a second freeze would add the second app's ~1,000)
    assert second <= first
